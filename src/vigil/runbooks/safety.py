"""Which steps need a person's confirmation before they run.

A step needs it when its code (not its comments) does something hard to undo — ``DROP``,
``TRUNCATE``, a ``DELETE`` or ``UPDATE`` without ``WHERE``, ``flushall``, ``push --force``,
``rm -rf``, a restart, a rollback, … — or when the runbook itself warns: the section's prose,
the step's explanation or its comments say CAUTION, careful, destructive, WARNING, DANGER or
"test in staging first".

``confirm=true`` on the fence asks for confirmation of any step. ``confirm=false`` only
overrides a warning in the prose: it cannot un-mark a destructive command, since the fence
is written once, long before the night someone runs a ``DROP`` from it without reading it.
"""

from __future__ import annotations

import re

from vigil.runbooks.model import Section, Step, StepKind
from vigil.runbooks.variables import code_only

_I = re.IGNORECASE
# A statement ends at ";" or at the double quote closing a `psql -c "…"`; single quotes are
# its own string literals (WHERE name = 'x').
_STATEMENT_END = r"[^;\"]*"
# (what the responder is told, pattern over the step's code without comments)
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, flags))
    for label, pattern, flags in (
        (
            "DROP",
            r"\bDROP\s+(?:TABLE|DATABASE|SCHEMA|INDEX|VIEW|COLUMN|ROLE|USER|TYPE|FUNCTION|"
            r"TRIGGER|SEQUENCE|EXTENSION|MATERIALIZED|OWNED|CONSTRAINT)\b|\bdropdb\b",
            _I,
        ),
        ("ALTER … DROP", r"\bALTER\s+TABLE\b" + _STATEMENT_END + r"\bDROP\b", _I),
        ("TRUNCATE", r"\bTRUNCATE\b", _I),
        ("DELETE without WHERE", r"\bDELETE\s+FROM\b(?!" + _STATEMENT_END + r"\bWHERE\b)", _I),
        ("UPDATE without WHERE", r"\bUPDATE\s+\S+\s+SET\b(?!" + _STATEMENT_END + r"\bWHERE\b)", _I),
        ("flushdb/flushall", r"\bflush(?:db|all)\b", _I),
        ("push --force", r"\bpush\b[^\n;&|]*\s(?:--force(?:-with-lease)?|-f)\b", 0),
        ("--force", r"(?<![\w-])--force\b", 0),
        ("reset --hard", r"\breset\s+--hard\b", 0),
        ("rm -rf", r"\brm\s+(?:-\w*r\w*f\w*|-\w*f\w*r\w*|-r\s+-f|-f\s+-r|--recursive\s+--force)\b", 0),
        ("pg_terminate_backend", r"\bpg_terminate_backend\b", _I),
        ("pg_restore --clean", r"\bpg_restore\b[^\n;&|]*--clean\b", 0),
        ("downgrade", r"\bdowngrade\b", _I),
        ("rollback", r"\brollback\b", _I),
        ("restart", r"\brestart\b", _I),
        ("kubectl delete", r"\bkubectl\b[^\n;&|]*\s(?:delete|drain)\b", 0),
        ("compose down", r"\b(?:docker-compose|docker\s+compose)\b[^\n;&|]*\sdown\b", 0),
        ("railway down", r"\brailway\s+down\b", 0),
        ("vercel rm", r"\bvercel\s+(?:rm|remove)\b", 0),
        ("DELETE request", r"(?:-X\s*|--request\s+)DELETE\b|^\s*DELETE\s+https?://", re.M),
    )
)
_WARNINGS = re.compile(
    r"(?i:\b(?:caution|careful|destructive|danger(?:ous)?|irreversible)\b|test(?:ed)? in staging first"
    r"|cannot be undone|data loss)|\bWARNING\b|\bWarning:"
)
# A more specific label already says it.
_IMPLIED = {"--force": "push --force"}


def destructive(step: Step) -> list[str]:
    """What in the step's code is hard to undo, by label, in the order of ``PATTERNS``."""
    if step.kind in (StepKind.SHOWN, StepKind.PROMQL):
        return []
    if step.kind is StepKind.DB_CHORE:  # kill-idle ends sessions, vacuum takes locks and time
        words = step.code.split()
        return [f"db {word}" for word in words[:2] if word in ("kill-idle", "vacuum")]
    code = code_only(step)
    found = [label for label, pattern in PATTERNS if pattern.search(code)]
    return [label for label in found if _IMPLIED.get(label) not in found]


def warnings(section: Section, step: Step) -> list[str]:
    """The runbook's own warnings about the step: in the section's prose, the step's
    explanation or its comments."""
    code = code_only(step)  # the same text with comments blanked: what differs is comment
    comments = "".join(c if k != c else " " for c, k in zip(step.code, code, strict=True))
    found: list[str] = []
    for where, text in (("section", section.text), ("explanation", step.explanation), ("comment", comments)):
        match = _WARNINGS.search(text)
        if match:
            found.append(f"{match.group(0)!r} in its {where}")
    return found


def confirmation(section: Section, step: Step) -> list[str]:
    """Why the step needs confirmation (empty: it does not)."""
    reasons = destructive(step)
    if step.attributes.confirm is False:
        return reasons  # confirm=false silences the prose, never a destructive command
    reasons += warnings(section, step)
    if step.attributes.confirm and not reasons:
        reasons.append("confirm=true")
    return reasons
