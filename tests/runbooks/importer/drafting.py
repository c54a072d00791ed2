"""Drafting a runbook the test writes, and reading the draft back the way ``vigil validate`` does:
the stack file with nothing set in the environment, then every runbook it names and every
``runbook:`` reference in it."""

from __future__ import annotations

from pathlib import Path

from vigil.config.load import load_stack
from vigil.config.stack import StackFile
from vigil.runbooks.importer import draft_stack
from vigil.runbooks.library import load_library


def drafted(folder: Path, markdown: str | bytes, name: str = "runbook.md") -> tuple[StackFile, str]:
    runbook = folder / name
    if isinstance(markdown, bytes):
        runbook.write_bytes(markdown)
    else:
        runbook.write_text(markdown, encoding="utf-8")
    out = folder / "vigil.yaml"
    draft = draft_stack(runbook, out)
    out.write_text(draft.text, encoding="utf-8")
    stack = load_stack(out, environ={})
    load_library(stack)
    return stack.model, draft.text
