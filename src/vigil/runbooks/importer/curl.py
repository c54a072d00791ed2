"""``curl`` commands in a runbook's shell blocks, read as requests: method, URL, headers, and
the JSON the runbook says to expect back (``# Expected response:`` and the document below it,
or a ``json`` block right after).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from vigil.runbooks.importer.document import Fence
from vigil.runbooks.model import LANGUAGES, StepKind

_ENDS = {"|", "||", "&&", ";", ">", ">>", "2>", "2>&1", "&"}
_BODY = {
    "-d",
    "--data",
    "--data-raw",
    "--data-binary",
    "--data-urlencode",
    "-F",
    "--form",
    "-T",
    "--upload-file",
}
_VALUED = {
    "-o", "--output", "-w", "--write-out", "-m", "--max-time", "--connect-timeout", "-A", "--user-agent",
    "-e", "--referer", "--cacert", "--cert", "-b", "--cookie", "-c", "--cookie-jar", "--retry", "-x",
    "--proxy", "--resolve", "-r", "--range", "-E", "--key",
}  # fmt: skip
_EXPECTING = re.compile(r"expect|response|returns|output|should (?:see|get|return)", re.I)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
MAX_EXPECTED = 20_000  # characters of an expected document; a longer one is not a health answer


@dataclass
class Request:
    line: int
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    insecure: bool = False
    comment: str = ""  # the shell comment just above it
    expected: Any = None  # the JSON the runbook says comes back


def requests(fence: Fence) -> Iterator[Request]:
    """The GET and HEAD requests of a shell block; one with a body or credentials is not a check."""
    if LANGUAGES.get(fence.language, StepKind.SHOWN) is not StepKind.SHELL and fence.language:
        return
    rows = fence.code.splitlines()
    comment, i = "", 0
    while i < len(rows):
        start = i
        command = rows[i].strip().removeprefix("$ ")
        while command.endswith("\\") and i + 1 < len(rows):
            i += 1
            command = command[:-1] + " " + rows[i].strip()
        i += 1
        if command.startswith("#"):
            comment = command.lstrip("# ").strip()
            continue
        request = _request(command, fence.line + 1 + start, comment)
        if command:
            comment = ""
        if request is not None:
            request.expected, i = _expected(rows, i)
            yield request


def _request(command: str, line: int, comment: str) -> Request | None:
    if "curl" not in command:
        return None
    try:
        tokens = shlex.split(command)
    except ValueError:
        return None
    if "curl" not in tokens:
        return None
    request = Request(line, "", comment=comment)
    rest = tokens[tokens.index("curl") + 1 :]
    while rest:
        token = rest.pop(0)
        if token in _ENDS or token.startswith("#"):
            break
        if token in ("-X", "--request") and rest:
            request.method = rest.pop(0).upper()
        elif token in ("-H", "--header") and rest:
            name, _, value = rest.pop(0).partition(":")
            if name.strip() and value.strip():
                request.headers[name.strip()] = value.strip()
        elif token in _BODY or token in ("-u", "--user"):
            return None
        elif token in ("-I", "--head"):
            request.method = "HEAD"
        elif token in ("-k", "--insecure"):
            request.insecure = True
        elif token in _VALUED and rest:
            rest.pop(0)
        elif not token.startswith("-") and not request.url:
            request.url = token
    if not request.url or request.method not in ("GET", "HEAD"):
        return None
    if "://" not in request.url and not request.url.startswith("$"):
        request.url = "http://" + request.url  # curl's own default for localhost:8080/health
    return request


def _expected(rows: list[str], i: int) -> tuple[Any, int]:
    """The JSON document below a request, after a comment that says it is what comes back."""
    j, said = i, False
    while j < len(rows) and (not rows[j].strip() or rows[j].lstrip().startswith("#")):
        said = said or bool(_EXPECTING.search(rows[j]))
        j += 1
    if not said or j >= len(rows) or not rows[j].lstrip().startswith(("{", "[")):
        return None, i
    depth, text = 0, []
    for k in range(j, len(rows)):
        text.append(rows[k])
        depth += rows[k].count("{") + rows[k].count("[") - rows[k].count("}") - rows[k].count("]")
        if depth <= 0 or sum(map(len, text)) > MAX_EXPECTED:
            return document("\n".join(text)), k + 1
    return None, i


def document(text: str) -> Any:
    """A JSON document as a runbook writes it, sometimes with a trailing comma; None if it is not one."""
    for attempt in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(attempt)
        except ValueError:
            continue
    return None
