"""``http``: a request, judged by status code, JSON fields, a body pattern and latency.

Reasons say what was expected and what came back (``status 503, expected 200``). Only the
first ``BODY_LIMIT`` bytes of a body are read: enough to judge a health endpoint, and a
misbehaving one cannot exhaust memory.
"""

from __future__ import annotations

import json
import re
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from vigil import __version__
from vigil.config.check import CheckBase, StrictModel
from vigil.config.secrets import redact_url
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind, metric
from vigil.probes.describe import describe_error
from vigil.probes.jsonpath import Condition, conditions_from, show

if TYPE_CHECKING:
    import aiohttp

BODY_LIMIT = 1024 * 1024
# Enough parallel connections for a few hundred endpoints checked at once; more waits its turn.
CONNECTION_LIMIT = 256
# Short, so that a failover done by changing DNS is seen within a check or two.
DNS_CACHE_SECONDS = 10
REASON_PROBLEMS = 5
_STATUS_PATTERN = re.compile(r"[1-5]xx", re.IGNORECASE)


class HttpExpect(StrictModel):
    status: int | list[int] | str | None = Field(
        None, description="Accepted status codes: 200, [200, 204] or '2xx'. Default: any 2xx."
    )
    json_: dict[str, Any] | list[str] | None = Field(
        None,
        alias="json",
        description=(
            "Fields of the JSON body: a mapping of dotted path (or nested mapping) to the expected value, "
            "or a list of conditions like 'checks.database.status == healthy', 'tags contains gpu', "
            "'queue.depth < 100'."
        ),
    )
    body: str | None = Field(None, description="A regular expression the body must match.")
    max_ms: float | None = Field(None, gt=0, description="Slowest acceptable answer, in milliseconds.")

    @field_validator("status")
    @classmethod
    def _status_is_code_or_pattern(cls, value: int | list[int] | str | None) -> int | list[int] | str | None:
        if isinstance(value, str):
            if value.isdigit():
                value = int(value)
            elif _STATUS_PATTERN.fullmatch(value):
                return value.lower()
            else:
                raise ValueError(f"status {value!r} is not a code like 200, a list like [200, 204] or 2xx")
        if value == []:
            raise ValueError("status needs at least one code")
        for code in [value] if isinstance(value, int) else value or []:
            if not 100 <= code <= 599:
                raise ValueError(f"status {code} is not an HTTP status code (100-599)")
        return value

    @field_validator("json_")
    @classmethod
    def _conditions_are_readable(
        cls, value: dict[str, Any] | list[str] | None
    ) -> dict[str, Any] | list[str] | None:
        if value is not None:
            conditions_from(value)
        return value

    @field_validator("body")
    @classmethod
    def _body_is_a_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"body is not a valid regular expression: {err}") from None
        return value

    # Parsed once per check rather than on every run: checks run thousands of times.
    @cached_property
    def conditions(self) -> tuple[Condition, ...]:
        return conditions_from(self.json_) if self.json_ is not None else ()

    @cached_property
    def body_pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.body) if self.body is not None else None

    def status_problem(self, status: int) -> str | None:
        accepted = self.status
        if accepted is None:
            ok, wanted = 200 <= status < 300, "2xx"
        elif isinstance(accepted, int):
            ok, wanted = status == accepted, str(accepted)
        elif isinstance(accepted, list):
            ok, wanted = status in accepted, " or ".join(str(code) for code in accepted)
        else:
            ok, wanted = str(status)[0] == accepted[0], accepted
        return None if ok else f"status {status}, expected {wanted}"


# Shared by every check that sets no ``expect``: the model is frozen (see config.check.DEFAULT_ALERT).
DEFAULT_EXPECT = HttpExpect.model_validate({})


class HttpCheck(CheckBase):
    kind: ClassVar[str] = "http"

    http: str = Field(description="The URL to request.")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = Field(
        None, description="Request body; a mapping or list is sent as JSON."
    )
    expect: HttpExpect = Field(default_factory=lambda: DEFAULT_EXPECT)
    tls_verify: bool = True
    follow_redirects: bool = True

    @field_validator("http")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return url_with_host(value, ("http", "https"), "an http:// or https:// URL")


def url_with_host(value: str, schemes: tuple[str, ...], wanted: str) -> str:
    """``value`` when it is a URL of one of ``schemes`` naming a host; else ``ValueError`` saying
    it expected ``wanted`` (the URL shown without its password)."""
    try:
        parts = urlsplit(value)
        usable = parts.scheme in schemes and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        usable = False
    if not usable:
        raise ValueError(f"expected {wanted} with a host, got {redact_url(value)!r}")
    return value


class HttpProbe:
    """One connection pool for every http check, so that keep-alive spares a handshake per run."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        # Made on first use: a session belongs to the loop it was made in, the engine's.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT, ttl_dns_cache=DNS_CACHE_SECONDS),
                # aiohttp's default (5 min total, 30s to connect) must not cut in before the
                # check's own timeout; each request carries that instead.
                timeout=aiohttp.ClientTimeout(total=None),
                # A cookie set by one endpoint must not change what another check sees.
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": f"vigil/{__version__}"},
            )
        return self._session

    async def observe(self, check: HttpCheck) -> Observation:
        import aiohttp

        session = self._client()
        is_text = isinstance(check.body, str)
        start = time.perf_counter()
        try:
            async with session.request(
                check.method,
                check.http,
                headers=check.headers,
                data=check.body if is_text else None,
                json=None if is_text else check.body,
                ssl=check.tls_verify,
                allow_redirects=check.follow_redirects,
                timeout=aiohttp.ClientTimeout(total=check.timeout),
            ) as response:
                body, complete = await _read_bounded(response)
                latency_ms = (time.perf_counter() - start) * 1000.0
        except TimeoutError:
            raise  # aiohttp's timeouts are ClientErrors too; the engine words every timeout alike
        except aiohttp.ClientError as err:
            raise ProbeError(client_error(err)) from None
        values = {"status_code": float(response.status), "latency_ms": latency_ms, "body_bytes": len(body)}
        expect = check.expect
        # Every expectation is judged and every one that failed named: a 503 whose body says which
        # dependency is down tells more than "status 503" alone.
        problems = [
            expect.status_problem(response.status),
            *_json_problems(expect.conditions, body, complete),
            _body_problem(expect.body_pattern, body, response.charset),
            _latency_problem(expect.max_ms, latency_ms),
        ]
        reason = _reason([problem for problem in problems if problem])
        return Observation(reason is None, reason, values)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def _read_bounded(response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """The body up to ``BODY_LIMIT`` bytes, and whether that was all of it."""
    buffer = bytearray()
    while len(buffer) <= BODY_LIMIT:
        chunk = await response.content.read(BODY_LIMIT + 1 - len(buffer))
        if not chunk:
            return bytes(buffer), True
        buffer += chunk
    return bytes(buffer[:BODY_LIMIT]), False


def _json_problems(conditions: tuple[Condition, ...], body: bytes, complete: bool) -> list[str]:
    if not conditions:
        return []
    if not complete:
        return [f"body is larger than {BODY_LIMIT // 1024} KiB, too big to judge as JSON"]
    if not body.strip():
        return ["body is not JSON: it is empty"]
    try:
        document = json.loads(body)
    except json.JSONDecodeError as err:
        start = body[:40].decode("utf-8", errors="replace")
        return [
            f"body is not JSON: {err.msg} at line {err.lineno} column {err.colno}; it starts {show(start)}"
        ]
    except ValueError as err:  # bytes that are not UTF-8 (or UTF-16/32) text
        return [f"body is not JSON: {err}"]
    return [problem for condition in conditions if (problem := condition.judge(document))]


def _reason(problems: list[str]) -> str | None:
    """The problems in one line; past ``REASON_PROBLEMS`` only counted, so the line stays readable."""
    if len(problems) > REASON_PROBLEMS:
        more = len(problems) - REASON_PROBLEMS
        problems = [*problems[:REASON_PROBLEMS], f"and {more} more"]
    return "; ".join(problems) or None


def _body_problem(pattern: re.Pattern[str] | None, body: bytes, charset: str | None) -> str | None:
    if pattern is None:
        return None
    try:
        text = body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    return None if pattern.search(text) else f"body does not match /{pattern.pattern}/"


def _latency_problem(max_ms: float | None, latency_ms: float) -> str | None:
    if max_ms is None or latency_ms <= max_ms:
        return None
    return f"took {latency_ms:.0f}ms, expected at most {max_ms:g}ms"


def client_error(err: aiohttp.ClientError) -> str:
    import aiohttp

    if isinstance(err, aiohttp.ClientConnectorError):
        host = f"[{err.host}]" if ":" in err.host else err.host
        return f"{host}:{err.port}: {describe_error(err.os_error)}"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "server closed the connection without answering"
    if isinstance(err, aiohttp.TooManyRedirects):
        return f"too many redirects ({len(err.history)})"
    if isinstance(err, aiohttp.ClientResponseError):
        # The parser's message spans lines and points at the fault with a row of ^.
        words = " ".join(line.strip() for line in err.message.splitlines() if line.strip(" ^"))
        return f"not a valid HTTP response: {words}"
    if isinstance(err, aiohttp.InvalidURL):
        return f"invalid URL {redact_url(str(err.url))}"
    return redact_url(describe_error(err))


KIND = ProbeKind(
    "http",
    HttpCheck,
    HttpProbe,
    (
        metric("http", "status_code", "The answer's status code."),
        metric("http", "latency_ms", "Time from sending the request to the end of the (bounded) body."),
        metric("http", "body_bytes", "Bytes of the body read, at most 1 MiB."),
    ),
    loads=("aiohttp",),
)
