"""The parameters of Prometheus' HTTP query API, read as Prometheus reads them.

Times are Unix seconds (``1700000000.5``) or RFC 3339 (``2026-12-02T01:00:00Z``); durations are
seconds (``15``, ``0.5``) or Prometheus durations (``1h30m``, ``15s``, ``500ms``). Both count to
the millisecond, as Prometheus does. A value that does not read answers Prometheus' own error:
``bad_data`` with ``invalid parameter "NAME": …``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from enum import StrEnum

from vigil.errors import VigilError

# Prometheus' model.ParseDuration: units in this order, each at most once, at least one.
_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_UNIT_SECONDS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
# Go's strconv.ParseFloat for decimal text (no underscores, unlike Python's float()).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Go's time.Duration holds nanoseconds in an int64: about 292 years.
_MAX_DURATION = 2**63 / 1e9


class ErrorType(StrEnum):
    """Prometheus' ``errorType`` values, each with its HTTP status."""

    BAD_DATA = "bad_data"
    EXECUTION = "execution"
    TIMEOUT = "timeout"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"  # Prometheus has no auth of its own; Vigil's 401/403
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"

    @property
    def status(self) -> int:
        return _STATUS.get(self, 400)


_STATUS = {
    ErrorType.BAD_DATA: 400,
    ErrorType.EXECUTION: 422,
    ErrorType.TIMEOUT: 503,
    ErrorType.NOT_FOUND: 404,
    ErrorType.UNAUTHORIZED: 401,
    ErrorType.INTERNAL: 500,
    ErrorType.UNAVAILABLE: 503,
}
# The errorType a Vigil error answer under /prometheus carries, by its HTTP status.
BY_STATUS = {400: ErrorType.BAD_DATA, 401: ErrorType.UNAUTHORIZED, 403: ErrorType.UNAUTHORIZED}
BY_STATUS |= {404: ErrorType.NOT_FOUND, 422: ErrorType.EXECUTION, 500: ErrorType.INTERNAL}


class QueryAPIError(VigilError):
    """A query API request that cannot be answered; answered as Prometheus answers it."""

    exit_code = 2

    def __init__(self, error_type: ErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status_code = error_type.status


def bad_param(name: str, message: str) -> QueryAPIError:
    return QueryAPIError(ErrorType.BAD_DATA, f'invalid parameter "{name}": {message}')


def parse_time(text: str, name: str) -> float:
    """Unix seconds, to the millisecond, from Unix seconds or RFC 3339 text."""
    if _NUMBER.fullmatch(text):
        seconds = float(text)
        if math.isfinite(seconds) and abs(seconds) < _MAX_DURATION:
            return round(seconds * 1000) / 1000
    else:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            when = None
        # RFC 3339 needs a date, a time and an offset: a bare date or a local time is ambiguous.
        if when is not None and when.tzinfo is not None and "T" in text.upper():
            return round(when.timestamp() * 1000) / 1000
    raise bad_param(name, f"cannot parse {_quoted(text)} to a valid timestamp")


def parse_duration(text: str, name: str) -> float:
    """Seconds, to the millisecond, from a number of seconds or a Prometheus duration."""
    if _NUMBER.fullmatch(text):
        seconds = float(text)
        if not math.isfinite(seconds) or abs(seconds) >= _MAX_DURATION:
            raise bad_param(name, f"cannot parse {_quoted(text)} to a valid duration. It overflows int64")
        return round(seconds * 1000) / 1000
    parts = _DURATION.fullmatch(text) if text else None
    if parts is None or not any(parts.groups()):
        raise bad_param(name, f"cannot parse {_quoted(text)} to a valid duration")
    seconds = sum(int(n) * unit for n, unit in zip(parts.groups(), _UNIT_SECONDS, strict=True) if n)
    if seconds >= _MAX_DURATION:
        raise bad_param(name, f"cannot parse {_quoted(text)} to a valid duration. It overflows int64")
    return seconds


def _quoted(text: str) -> str:
    """Go's %q, short: a value is echoed back in the error, never at length."""
    shown = text if len(text) <= 64 else text[:63] + "…"
    return '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"'
