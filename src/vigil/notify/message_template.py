"""Templates a team writes in its stack file (a status update's message, a postmortem): Jinja2 in
a sandbox, bounded in what it may read, how long it may run and how much it may write.

The stack file is the team's own, but a slip in a template must neither reach Python's insides
(``{{ incident.__class__ }}``: the sandbox refuses it) nor hold up the server or a page (a loop
over a loop over a 10,000-character text): a render that runs past ``budget`` seconds is
stopped, ``range`` is capped, and the output is cut at ``limit`` characters. A template is
compiled when the stack file is read, so a syntax error or an unknown name is a ``vigil validate``
error, not a failed page in the middle of an incident.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Collection, Mapping
from types import FrameType
from typing import Any

from jinja2 import TemplateError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from vigil.errors import VigilError

MAX_SOURCE = 64_000  # characters of template source
RANGE_LIMIT = 1_000
CUT = "\n…(cut)"


class TemplateFault(VigilError):
    """A template that cannot be compiled or rendered; the message says which and why."""

    status_code = 409  # over the API: the stack file's template is at fault, not the request

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.reason = reason


class RenderBudget(Exception):
    """Raised into a render that ran past its time budget."""


def _range(*args: int) -> range:
    found = range(*args)
    if len(found) > RANGE_LIMIT:
        raise ValueError(f"range() of {len(found):,} items; a template may count to {RANGE_LIMIT:,}")
    return found


def _cell(value: object) -> str:
    """``value`` fit for one cell of a Markdown table: one line, its pipes escaped."""
    return " ".join(str(value if value is not None else "").split()).replace("|", "\\|")


ENVIRONMENT = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True, trim_blocks=True)
ENVIRONMENT.globals["range"] = _range
ENVIRONMENT.filters["cell"] = _cell


class MessageTemplate:
    """A compiled template with the names it may use (``known``) and its bounds."""

    def __init__(
        self,
        source: str,
        *,
        name: str,
        known: Collection[str],
        limit: int = 4_000,
        budget: float = 1.0,
    ) -> None:
        if len(source) > MAX_SOURCE:
            raise TemplateFault(name, f"{len(source):,} characters; a template may have {MAX_SOURCE:,}")
        try:
            tree = ENVIRONMENT.parse(source)
            unknown = sorted(meta.find_undeclared_variables(tree) - set(known) - set(ENVIRONMENT.globals))
            if any(
                True for _ in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))
            ):
                raise TemplateFault(
                    name, "a template stands alone: include, import and extends are not available"
                )
            if unknown:
                raise TemplateFault(
                    name, f"unknown name {unknown[0]!r}; a template may use {', '.join(known)}"
                )
            self._template = ENVIRONMENT.from_string(tree)
        except TemplateError as err:
            lineno = getattr(err, "lineno", None)  # a syntax error knows its line
            line = f"line {lineno}: " if lineno else ""
            raise TemplateFault(name, f"{line}{err.message or type(err).__name__}") from None
        self.name, self.limit, self.budget = name, limit, budget

    def render(self, context: Mapping[str, Any]) -> str:
        """The text, at most ``limit`` characters (cut with a mark); ``TemplateFault`` when the
        template fails or runs past its budget. Runs in the calling thread, which it blocks."""
        deadline = time.monotonic() + self.budget
        pieces: list[str] = []
        size = 0

        def tracer(frame: FrameType, event: str, arg: object) -> Any:
            # Called at each line the render runs: a loop of loops is stopped at its deadline.
            if time.monotonic() > deadline:
                raise RenderBudget
            return tracer

        earlier = sys.gettrace()
        sys.settrace(tracer)
        try:
            for piece in self._template.generate(dict(context)):
                pieces.append(piece)
                size += len(piece)
                if size > self.limit:
                    break
        except RenderBudget:
            raise TemplateFault(self.name, f"rendering took more than {self.budget:g}s; stopped") from None
        except TemplateFault:
            raise
        except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as err:
            raise TemplateFault(self.name, f"{type(err).__name__}: {err}".splitlines()[0]) from None
        finally:
            sys.settrace(earlier)
        text = "".join(pieces)
        return text if len(text) <= self.limit else text[: self.limit - len(CUT)] + CUT
