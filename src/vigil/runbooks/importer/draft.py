"""``draft_stack``: a runbook in, a stack file drafted from its own words out.

The readers run in one visible order, each adding what it finds to one ``StackDraft``: the
datastores first (so that a table row saying "PostgreSQL" is known for one), then services,
health checks, dependencies, alert rules, severities, windows, backup jobs and what is kept as
comments.
The text written is the text validated: should any part not validate, it is left out with a
comment saying why, and the rest stands.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vigil.config.load import parse_stack
from vigil.errors import ConfigError, ConfigFault, RunbookError
from vigil.runbooks.importer import (
    alerts,
    backups,
    datastores,
    dependencies,
    health,
    notes,
    services,
    severities,
    windows,
)
from vigil.runbooks.importer.document import Document
from vigil.runbooks.importer.emit import render
from vigil.runbooks.importer.links import Issues
from vigil.runbooks.importer.model import StackDraft
from vigil.runbooks.importer.variables import Variables
from vigil.runbooks.model import Runbook
from vigil.runbooks.parse import read_markdown, runbook_of

MAX_ROUNDS = 5


@dataclass(frozen=True)
class Draft:
    text: str  # the stack file, YAML with comments
    notes: tuple[str, ...]  # what was drafted and what was kept as comments, a line each


def draft_stack(path: Path, output: Path | None = None) -> Draft:
    """Draft a stack file from the runbook at ``path``; ``output`` is where it will be written
    (the runbook is listed relative to it), else the current directory. ``RunbookError`` when
    the file cannot be read as a runbook (not UTF-8, too big, nested too deep)."""
    markdown = read_markdown(path, path.name)
    runbook = runbook_of(markdown)
    document = Document.of(markdown, runbook)
    draft = StackDraft(path.name, runbook.title)
    _list_runbook(draft, runbook, path, output)
    variables = Variables.of(document)
    datastores.find(document, draft, variables)
    services.find(document, draft)
    health.find(document, draft, variables)
    datastores.finish(draft, variables)
    services.describe_externals(document, draft)
    _external_checks_inform(draft)
    dependencies.find(document, draft)
    issues = Issues(runbook, path.name) if draft.runbook_path is not None else None
    alerts.find(document, draft, issues)
    if issues is not None:
        alerts.link_checks(draft, issues)
    severities.find(document, draft)
    windows.find(document, draft)
    backups.find(document, draft)
    notes.find(document, draft)
    return Draft(validated(draft), _summary(draft))


def _list_runbook(draft: StackDraft, runbook: Runbook, path: Path, output: Path | None) -> None:
    if runbook.faults:
        # vigil validate would refuse a runbook whose step attributes it cannot read.
        draft.runbook_problem = f"{runbook.faults[0]} (fix it, then list the runbook)"
        return
    base = (output.parent if output is not None else Path.cwd()).resolve()
    try:
        relative = os.path.relpath(path.resolve(), base)
    except ValueError:  # another drive: only the whole path reaches it
        relative = str(path.resolve())
    relative = relative.replace(os.sep, "/")
    draft.runbook_path = glob.escape(relative) if glob.has_magic(relative) else relative


def _external_checks_inform(draft: StackDraft) -> None:
    for service in draft.services.values():
        if service.external:
            for check in service.checks.values():
                check.fields.setdefault("alert", {"after": 3, "severity": "P3"})
                check.also.append("an external provider's: P3, so its outage informs rather than pages")


def validated(draft: StackDraft) -> str:
    """The draft's text, once it validates as ``vigil validate`` reads it with nothing set."""
    for _ in range(MAX_ROUNDS):
        text = render(draft)
        try:
            parse_stack(f"{draft.file} (draft)", text, environ={})
            return text
        except ConfigError as err:
            if not all([_leave_out(draft, fault) for fault in err.faults]):
                raise RunbookError(f"{draft.file}: the draft does not validate: {err.faults[0]}") from None
            draft.alerts = [alert for alert in draft.alerts if alert.fields["name"]]
    raise RunbookError(f"{draft.file}: the draft does not validate after {MAX_ROUNDS} rounds")


def _leave_out(draft: StackDraft, fault: ConfigFault) -> bool:
    """Take the part ``fault`` is about out of the draft, with a comment; False if none is.
    A part already taken out (a second fault about it) counts as taken out."""
    parts = [*_parts(fault.path), "", "", ""]
    head, name, field, inner = parts[:4]
    if head == "services" and name:
        service = draft.services.get(name)
        if service is None:
            return True
        if field == "checks" and inner:
            service.checks.pop(inner, None)
        elif field == "depends_on":
            service.depends_on.clear()
        elif field == "metrics":
            service.metrics = None
        else:
            del draft.services[name]
            for other in draft.services.values():
                other.depends_on.pop(name, None)
    elif head == "alerts" and name.isdigit():
        if int(name) < len(draft.alerts):
            draft.alerts[int(name)].fields["name"] = ""  # taken out below, keeping the indexes
    elif head == "severities":
        draft.severities.clear()
    elif head == "maintenance":
        draft.windows.clear()
    elif head == "backups" and name:
        draft.backups.pop(name, None)
    elif head == "env" and name:
        draft.env.pop(name, None)
    else:
        return False
    draft.note("not drafted", 0, f"{fault.path}: {fault.message}")
    return True


_PART = re.compile(r"\[(\d+)\]|\[(['\"])(.*?)\2\]|([^.\[\]]+)")


def _parts(path: str) -> list[str]:
    """``alerts[3].expr`` → ``["alerts", "3", "expr"]``, as ``config.yaml_places.dotted`` writes them."""
    return [index or quoted or plain for index, _, quoted, plain in _PART.findall(path)]


def _summary(draft: StackDraft) -> tuple[str, ...]:
    checks = sum(len(s.checks) for s in draft.services.values())
    found = [
        f"{len(draft.services)} services",
        f"{checks} checks",
        f"{len(draft.alerts)} alert rules",
        f"{sum(1 for data, _ in draft.severities.values() if data)} severities",
        f"{len(draft.windows)} maintenance windows",
        f"{len(draft.backups)} backup jobs",
        f"{len(draft.checklists)} checklists",
    ]
    lines = [f"{draft.file}: drafted " + ", ".join(found)]
    if draft.notes:
        topics = sorted({note.topic for note in draft.notes})
        lines.append(f"{len(draft.notes)} things kept as comments ({', '.join(topics)})")
    if draft.runbook_problem:
        lines.append(f"runbooks: not listed: {draft.runbook_problem}")
    return tuple(lines)
