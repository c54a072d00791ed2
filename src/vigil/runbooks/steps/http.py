"""``http`` steps: a request written as in an ``.http`` file, sent with httpx.

    POST https://api.example.com/v1/cache/purge      ← request line (a bare URL means GET)
    Authorization: Bearer $API_TOKEN                 ← headers
                                                     ← a blank line
    {"paths": ["/"]}                                 ← the body

``$VAR`` and ``${VAR}`` are expanded from the stack file's ``env:`` and the environment (there
is no shell to do it). The status line and the body (its first ``BODY_LIMIT`` bytes) are printed;
2xx and 3xx succeed (redirects are shown, not followed), anything else fails the step.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field

import httpx

from vigil.probes.describe import describe_error
from vigil.runbooks.model import Step, StepKind
from vigil.runbooks.outcome import StepStatus
from vigil.runbooks.steps.base import Ran, Setting
from vigil.runbooks.transcript import Transcript
from vigil.runbooks.variables import expand

BODY_LIMIT = 64 * 1024
DEFAULT_TIMEOUT = 30.0
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_REQUEST_LINE = re.compile(
    rf"^(?:(?P<method>{'|'.join(METHODS)})\s+)?(?P<url>https?://\S+)(?:\s+HTTP/[\d.]+)?$", re.I
)
_HEADER = re.compile(r"^(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""


def parse_request(text: str) -> Request | str:
    """The request, or why the text is not one."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(("#", "//"))]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return "the block holds no request line (e.g. GET https://api.example.com/health)"
    match = _REQUEST_LINE.match(lines[0].strip())
    if not match:
        return f"{lines[0].strip()[:80]!r} is not a request line like GET https://…"
    headers: list[tuple[str, str]] = []
    rest = lines[1:]
    while rest and rest[0].strip():
        header = _HEADER.match(rest.pop(0).strip())
        if not header:
            return "a header line must read Name: value, and a blank line must come before the body"
        headers.append((header.group("name"), header.group("value")))
    body = "\n".join(rest).strip("\n")
    return Request((match.group("method") or "GET").upper(), match.group("url"), headers, body)


class HttpStep:
    def missing(self, step: Step, setting: Setting) -> list[str]:
        request = parse_request(expand(StepKind.HTTP, step.code, setting.env))
        return [request] if isinstance(request, str) else []

    def command(self, step: Step, setting: Setting) -> str:
        return expand(StepKind.HTTP, step.code, setting.env)

    async def run(self, step: Step, setting: Setting, out: Transcript) -> Ran:
        request = parse_request(expand(StepKind.HTTP, step.code, setting.env))
        if isinstance(request, str):
            return Ran.failed(request)
        limit = step.attributes.timeout or DEFAULT_TIMEOUT
        client = setting.http or httpx.AsyncClient()
        try:
            return await _send(client, request, limit, out)
        except httpx.TimeoutException:
            return Ran(StepStatus.TIMED_OUT, None, f"no answer within {limit:g}s")
        except httpx.HTTPError as err:
            reason = describe_error(_root(err))
            out.line(reason)
            return Ran.failed(reason)
        finally:
            if setting.http is None:
                await client.aclose()


def _root(err: BaseException) -> BaseException:
    """The deepest error under httpx's own: ``ConnectError`` wraps anyio's "All connection
    attempts failed", which wraps the ``ConnectionRefusedError`` a responder wants to read."""
    seen = err
    for _ in range(8):
        cause = seen.__cause__ or seen.__context__
        if cause is None:
            break
        seen = cause
    return seen


async def _send(client: httpx.AsyncClient, request: Request, limit: float, out: Transcript) -> Ran:
    sent = client.build_request(
        request.method,
        request.url,
        headers=request.headers,
        content=request.body.encode() if request.body else None,
        timeout=limit,
    )
    # Streamed, so that a huge answer is read only as far as BODY_LIMIT.
    answer = await client.send(sent, stream=True, follow_redirects=False)
    body = b""
    try:
        async for chunk in answer.aiter_bytes():
            body += chunk
            if len(body) >= BODY_LIMIT:
                break
    finally:
        await answer.aclose()
    out.line(f"HTTP/{answer.http_version.removeprefix('HTTP/')} {answer.status_code} {answer.reason_phrase}")
    _print_body(body[:BODY_LIMIT], answer.headers.get("content-type", ""), out)
    if len(body) >= BODY_LIMIT:
        out.line(f"… (the body is cut at {BODY_LIMIT // 1024} KB)")
    if answer.status_code < 400:
        return Ran(StepStatus.SUCCEEDED, 0)
    return Ran.failed(f"status {answer.status_code} {answer.reason_phrase}, expected 2xx or 3xx")


def _print_body(body: bytes, content_type: str, out: Transcript) -> None:
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        # A cut or broken JSON body is shown as it came.
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    for line in text.splitlines():
        out.line(line)
