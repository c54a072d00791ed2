"""What the SQL probes (``postgres``, ``mysql``) share: the ``query`` and ``expect`` fields, the
statements run on a new connection (``observe_on``, through each driver's ``SqlConnection``),
judging a query's first value, and saying where a connection failed without ever saying the
password.

A stack file's expectation comes from YAML (``1``, ``true``, ``"t"``, ``2.5``) while the value
comes from a driver (``int``, ``Decimal``, ``bool``, MySQL's ``1`` for TRUE, text), so equality
is judged by meaning, not by Python type.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, model_validator

from vigil.config.check import CheckBase, StrictModel, Threshold
from vigil.config.secrets import MASK, redact_url
from vigil.probes.base import Metric, Observation, metric
from vigil.probes.describe import describe_error


class QueryExpect(StrictModel):
    value: Any = Field(
        None, description="The first column of the first row must equal this (write null to expect NULL)."
    )
    range: Threshold | None = Field(None, description="Or: that value, as a number, within {min, max}.")

    @property
    def wants_value(self) -> bool:
        # ``value: null`` is a real expectation (the answer is NULL); leaving it out is none.
        return "value" in self.model_fields_set

    @property
    def is_empty(self) -> bool:
        return not self.wants_value and self.range is None


class QueryCheck(CheckBase):
    """The fields every SQL kind shares; each subclass adds its ``kind`` and its URL field."""

    query: str | None = Field(None, description="A query to run after SELECT 1; its first value is kept.")
    stats: bool = Field(
        False,
        description=(
            "Also measure the server's health (connections, longest query and transaction, blocked "
            "sessions, database size, replication lag, cache hit ratio); the numbers become samples."
        ),
    )
    expect: QueryExpect = Field(default_factory=QueryExpect)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _expect_needs_query(self) -> QueryCheck:
        if self.query is None and not self.expect.is_empty:
            raise ValueError("expect judges the answer of query, but no query is given")
        return self


class SqlConnection(Protocol):
    """A driver's new connection, as ``observe_on`` uses it."""

    errors: tuple[type[Exception], ...]  # what the driver raises when a statement fails

    def describe(self, err: Exception) -> str:
        """One of ``errors`` in one line, as a reason shows it."""
        ...

    async def select_one(self) -> None: ...

    async def stats(self) -> dict[str, float]: ...

    async def first_row(self, query: str) -> Sequence[Any] | None: ...

    async def close(self) -> None:
        """A polite goodbye, to a server that is answering."""
        ...

    def drop(self) -> None:
        """Close the socket at once: cancelled or broken, the server may never answer."""
        ...


async def observe_on(conn: SqlConnection, check: QueryCheck, url: str, connect_ms: float) -> Observation:
    """``SELECT 1`` (or the stats) and the check's query on ``conn``, then ``conn`` closed; a
    reason never shows the URL's password."""
    try:
        observation = await _statements(conn, check, connect_ms)
    except BaseException:
        # Cancelled by the engine's timeout, or the connection broke: a polite close would
        # wait on a server that may never answer.
        conn.drop()
        raise
    await conn.close()
    if observation.reason:
        return Observation(observation.ok, scrub(observation.reason, url), observation.values)
    return observation


async def _statements(conn: SqlConnection, check: QueryCheck, connect_ms: float) -> Observation:
    start = time.perf_counter()
    first = "stats query" if check.stats else "SELECT 1"
    try:
        stats = await conn.stats() if check.stats else {}
        if not check.stats:
            await conn.select_one()
    except conn.errors as err:
        return Observation.failed(f"{first} failed: {conn.describe(err)}", connect_ms=connect_ms)
    if check.query is None:
        return Observation.passed(connect_ms=connect_ms, query_ms=elapsed_ms(start), **stats)
    try:
        row = await conn.first_row(check.query)
    except conn.errors as err:
        return Observation.failed(f"query failed: {conn.describe(err)}", connect_ms=connect_ms, **stats)
    return verdict(row, check.expect, connect_ms=connect_ms, query_ms=elapsed_ms(start), **stats)


def query_metrics(kind: str) -> tuple[Metric, ...]:
    """The metrics every SQL kind publishes, with or without ``stats``."""
    return (
        metric(kind, "connect_ms", "Time to connect and authenticate."),
        metric(kind, "query_ms", "Time for SELECT 1 (or the stats query) plus the check's query."),
        metric(kind, "value", "The check's query's first value, when it is a number.", name="query_value"),
    )


def ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole``, or None when either is unknown or ``whole`` is 0."""
    return part / whole if part is not None and whole else None


_TRUE = frozenset({"t", "true", "y", "yes", "on", "1"})
_FALSE = frozenset({"f", "false", "n", "no", "off", "0"})
_WORDS = (_TRUE | _FALSE) - {"0", "1"}  # "1" is a number first
# float4 columns come back as e.g. 0.10000000149011612; a YAML 0.1 should still match them.
_FLOAT_TOLERANCE = 1e-6


def verdict(row: Sequence[Any] | None, expect: QueryExpect, **values: float) -> Observation:
    """Judge a query's first row against ``expect``; ``values`` (timings) are kept either way."""
    if row is None or len(row) == 0:
        # A query with nothing to check (kept only for its number) may legitimately return nothing.
        if expect.is_empty:
            return Observation.passed(**values)
        return Observation.failed("query returned no rows", **values)
    value = row[0]
    number = as_number(value)
    if number is not None:
        values["value"] = number
    reason = judge(value, expect)
    return Observation(reason is None, reason, values)


def judge(value: Any, expect: QueryExpect) -> str | None:
    """Why ``value`` does not meet ``expect``, or None when it does."""
    if expect.wants_value and not same(value, expect.value):
        return f"query returned {show(value)}, expected {show(expect.value)}"
    if expect.range is not None:
        number = as_number(value)
        if number is None:
            return f"query returned {show(value)}, not a number"
        breach = expect.range.breach(number)
        if breach:
            return f"query returned {breach}"
    return None


def same(actual: Any, expected: Any) -> bool:
    """Equality by meaning: booleans by truth, numbers by value, everything else by text."""
    if actual is None or expected is None:
        return actual is None and expected is None
    # MySQL answers TRUE as 1 and PostgreSQL as True; YAML may say true, "t" or "yes".
    if any(isinstance(side, bool) or _is_truth_word(side) for side in (actual, expected)):
        truth = _as_bool(actual)
        return truth is not None and truth == _as_bool(expected)
    # Compare as numbers only when one side really is a number: two texts "007" and "7" differ.
    if not (isinstance(actual, str | bytes) and isinstance(expected, str | bytes)):
        a, e = _as_decimal(actual), _as_decimal(expected)
        if a is not None and e is not None:
            if isinstance(actual, float) or isinstance(expected, float):
                return math.isclose(float(a), float(e), rel_tol=_FLOAT_TOLERANCE)
            return a == e
    return _text(actual) == _text(expected)


def as_number(value: Any) -> float | None:
    """``value`` as a finite float when it is a number (or numeric text), else None; never a bool."""
    number = _as_decimal(value)  # None for bools, NaN and anything that is not a number
    if number is None:
        return None
    try:
        result = float(number)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None  # 1e400 is finite as a Decimal, not as a float


def show(value: Any) -> str:
    """``value`` as a reason shows it: numbers bare, text quoted and cut short, NULL by name."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.12g}"  # enough digits that "returned 0.1, expected 0.1" cannot happen
    if isinstance(value, int | Decimal):
        return str(value)
    text = repr(_text(value)) if isinstance(value, str | bytes) else str(value)
    text = " ".join(text.split())  # a reason is one line
    return text if len(text) <= 80 else text[:77] + "..."


def endpoint(url: str, default_port: int) -> str:
    """``host:port`` of a connection URL, for reasons; never includes credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    try:
        port = parts.port or default_port
    except ValueError:
        return host
    if host.startswith("/"):  # a Unix socket directory (PostgreSQL's ?host=/run/postgresql)
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connect_failure(err: OSError, where: str) -> str:
    """``connection refused (127.0.0.1:5432)``: the network failure, then where it happened."""
    text = describe_error(err)
    if text.endswith(")"):
        return f"{text[:-1]}; {where})"
    return f"{text} ({where})"


def scrub(text: str, url: str) -> str:
    """``text`` without the URL's password, even where a driver quoted it outside the URL."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    # Very short passwords would mask innocent characters; the Redactor draws the same line.
    if password and len(password) >= 3:
        for secret in sorted({password, unquote(password)}, key=len, reverse=True):
            text = text.replace(secret, MASK)
    return redact_url(text)


def first_line(err: BaseException) -> str:
    """A driver error's message, first line only (PostgreSQL adds DETAIL/HINT lines)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading), rounded to microseconds."""
    return round((time.perf_counter() - start) * 1000.0, 3)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str | bytes):
        word = _text(value).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def _is_truth_word(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in _WORDS


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, float):
            number = Decimal(repr(value))  # the shortest form: 0.1, not 0.1000000000000000055…
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str | bytes):
            number = Decimal(_text(value).strip())
        else:
            return None
    except InvalidOperation:
        return None
    # NaN never equals anything and a signalling NaN raises on comparison: treat both as text.
    return number if number.is_finite() else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
