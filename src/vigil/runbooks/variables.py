"""What a step needs from outside before it can run: ``$VAR``s from the stack file's ``env:``
or the environment, and ``<placeholder>``s the responder fills with ``--param``.

Params are the only text a person gives that becomes part of a command, so their values are
short and made of characters no shell, SQL or URL gives a meaning to beyond the value itself.
Text from alerts, labels, webhooks or incidents never reaches a step. Variables are not pasted
into a shell script: the shell expands them from the environment Vigil gives it; Vigil expands
them only to show the step (and then redacts) and in ``http`` steps, which have no shell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vigil.config.secrets import Redactor, redact_url
from vigil.errors import StepInputError
from vigil.runbooks.model import Step, StepKind
from vigil.runbooks.shell_text import Reference, scan

MAX_PARAM = 256
MAX_PARAMS = 50
UNREFERENCED_SECRET = 8  # characters
_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_PARAM_VALUE = re.compile(r"[A-Za-z0-9._:/@%+=,-]*")
# <commit>, <PR_NUMBER>, <run-id>; [id], [org]; YOUR_KEY, YOUR_API_KEY.
_PLACEHOLDER = re.compile(
    r"<(?P<angle>[A-Za-z][A-Za-z0-9_-]*)>"
    r"|\[(?P<square>[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)\]"
    r"|\b(?P<your>YOUR_[A-Z0-9_]*[A-Z0-9])\b"
)
_CHARACTER_RANGE = re.compile(r"[A-Za-z0-9]-[A-Za-z0-9]")  # [a-z] in a grep pattern is not a placeholder
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|AUTH|CREDENTIAL|PRIVATE|COOKIE|SESSION")
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_HASH_COMMENT = re.compile(r"(?m)^\s*(#|//)[^\n]*")
_HTTP_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Placeholder:
    name: str  # as written: commit, PR_NUMBER, id, YOUR_API_KEY
    text: str  # as it stands in the step: <commit>, [id], YOUR_API_KEY
    start: int
    end: int


def check_params(params: Mapping[str, str]) -> dict[str, str]:
    """``params`` keyed by lower-cased name; a ``StepInputError`` for any that cannot be used."""
    if len(params) > MAX_PARAMS:
        raise StepInputError(f"{len(params)} params given; at most {MAX_PARAMS}")
    checked: dict[str, str] = {}
    for name, value in params.items():
        if not _PARAM_NAME.fullmatch(name):
            raise StepInputError(f"--param {name[:40]!r}: a name is letters, digits, _ . - (at most 64)")
        if len(value) > MAX_PARAM:
            raise StepInputError(f"--param {name}: the value is {len(value)} characters; at most {MAX_PARAM}")
        if not _PARAM_VALUE.fullmatch(value):
            raise StepInputError(
                f"--param {name}: the value may hold only letters, digits and . _ : / @ % + = , - "
                "(it becomes part of a command)"
            )
        if value.startswith("-"):
            raise StepInputError(
                f"--param {name}: the value may not start with '-' (it would read as an option)"
            )
        checked[name.lower()] = value
    return checked


def code_only(step: Step) -> str:
    """The step's text without its comments, as far as its language marks them."""
    if step.kind is StepKind.SHELL:
        return scan(step.code).code
    if step.kind is StepKind.SQL:
        return _SQL_COMMENT.sub(lambda m: " " * len(m.group(0)), step.code)
    return _HASH_COMMENT.sub(lambda m: " " * len(m.group(0)), step.code)


def placeholders(step: Step) -> list[Placeholder]:
    found: list[Placeholder] = []
    for m in _PLACEHOLDER.finditer(code_only(step)):
        name = m.group("angle") or m.group("square") or m.group("your")
        if m.group("square") and _CHARACTER_RANGE.fullmatch(name):
            continue
        found.append(Placeholder(name, m.group(0), m.start(), m.end()))
    return found


def fill(step: Step, params: Mapping[str, str]) -> str:
    """The step's code with every placeholder given in ``params`` (lower-cased keys) replaced."""
    code = step.code
    for placeholder in reversed(placeholders(step)):
        value = params.get(placeholder.name.lower())
        if value is not None:
            code = code[: placeholder.start] + value + code[placeholder.end :]
    return code


def references(kind: StepKind, code: str) -> list[Reference]:
    """The ``$VAR``s a step's code expands (shell and http steps; SQL has no variables)."""
    if kind is StepKind.SHELL:
        return list(scan(code).references)
    if kind is StepKind.HTTP:
        text = _HASH_COMMENT.sub(lambda m: " " * len(m.group(0)), code)
        return [
            Reference(m.group(1) or m.group(2), m.start(), m.end()) for m in _HTTP_VARIABLE.finditer(text)
        ]
    return []


def needed(kind: StepKind, code: str) -> list[str]:
    if kind is StepKind.SHELL:
        return scan(code).needed()
    return list(dict.fromkeys(r.name for r in references(kind, code) if r.required))


def expand(kind: StepKind, code: str, env: Mapping[str, str]) -> str:
    """``code`` with its variables replaced by their values (unset ones stay as written)."""
    for ref in reversed(references(kind, code)):
        value = env.get(ref.name, ref.default)
        if value is not None:
            code = code[: ref.start] + value + code[ref.end :]
    return code


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name.upper()))


def run_redactor(
    base: Callable[[str], str], kind: StepKind, code: str, env: Mapping[str, str]
) -> Callable[[str], str]:
    """The stack's redactor, and also: the values of the step's secret-looking variables, the
    passwords in any URL among its variables' values, and the longer values of every other
    secret-looking variable in its environment (a step that runs ``env`` or ``railway
    variables`` prints those too; short ones like ``true`` would mask innocent words)."""
    extra = Redactor()
    for ref in references(kind, code):
        value = env.get(ref.name)
        if value is None:
            continue
        if looks_secret(ref.name):
            extra.add(value)
        elif redact_url(value) != value:
            extra.add(_url_password(value))
    for name, value in env.items():
        if len(value) >= UNREFERENCED_SECRET and looks_secret(name):
            extra.add(value)
    return lambda text: extra(base(text))


def _url_password(url: str) -> str:
    # Redactor.add masks the whole value it is given; a URL's password alone is the secret.
    start = url.find("://")
    at = url.find("@", start)
    colon = url.find(":", start + 3, at)
    return url[colon + 1 : at] if 0 <= colon < at else ""
