"""What the database chores answer, their bounds, and the ``ChoreEngine`` each engine implements.

Every answer is a frozen dataclass with ``as_dict`` for ``--json`` and the API; every listing
is cut at ``limit`` rows (at most ``MOST_ROWS``) and every query text at ``QUERY_TEXT``
characters, with the stack file's secrets masked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from vigil.errors import InputError, VigilError
from vigil.maintenance.chores.caller import normal

DEFAULT_ROWS = 20
MOST_ROWS = 500
QUERY_TEXT = 200
MOST_TABLES = 100  # named to one vacuum
DEFAULT_VACUUM_TIMEOUT = 3600.0
LONGEST_VACUUM = 24 * 3600.0
READ_TIMEOUT = 30.0  # statement timeout of every listing
CONNECT_TIMEOUT = 10.0


class Chore(StrEnum):
    VACUUM = "vacuum"
    SIZES = "sizes"
    KILL_IDLE = "kill-idle"
    LONG_QUERIES = "long-queries"


class ChoreFailed(VigilError):
    """The database could not be reached or refused a chore; the message says which and why."""

    status_code = 502


class ChoreInputError(InputError):
    """A chore asked for wrongly: no such database or table, a bound out of range."""

    exit_code = 2


class ChoreUnsupported(ChoreInputError):
    """The engine has no such chore (MariaDB has no unused-index statistics without
    performance_schema, no VACUUM); the message names what it offers instead."""


class Answer:
    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True)
class Relation(Answer):
    schema: str
    name: str
    bytes: int
    table: str | None = None  # an index's table
    rows: int | None = None  # a table's estimated rows
    scans: int | None = None  # an index's scans since statistics were reset


@dataclass(frozen=True)
class Sizes(Answer):
    database: str
    tables: list[Relation]
    indexes: list[Relation]
    unused_indexes: list[Relation] | None  # None: the engine keeps no index usage
    note: str = ""


@dataclass(frozen=True)
class Session(Answer):
    id: int
    user: str
    database: str
    client: str
    application: str
    state: str
    seconds: float  # running (a query) or idle for
    query: str


@dataclass(frozen=True)
class IdleSweep(Answer):
    database: str
    older_than: float
    dry_run: bool
    sessions: list[Session]  # idle long enough, the caller's own left out
    killed: list[int]
    failed: dict[int, str]  # session id: why it could not be ended
    kept: list[int]  # left alone because they are the caller's own


@dataclass(frozen=True)
class Vacuum(Answer):
    database: str
    tables: list[str]  # empty: the whole database
    analyze: bool
    seconds: float


@dataclass(frozen=True)
class Bounds:
    """The bounds one call runs under, checked once."""

    rows: int = DEFAULT_ROWS

    def __post_init__(self) -> None:
        if not 1 <= self.rows <= MOST_ROWS:
            raise ChoreInputError(f"--limit must be 1 to {MOST_ROWS}, not {self.rows}")


@dataclass(frozen=True)
class IdleAsk:
    """One ``kill-idle``: the age, the bound, whether to end (else list), and whose sessions to
    leave alone: ``keep`` by id, and ``own``, this process's sockets (``caller.py``)."""

    older_than: float
    bounds: Bounds
    kill: bool
    keep: frozenset[int]
    redact: Callable[[str], str]
    own: frozenset[tuple[str, int]]

    @property
    def reach(self) -> int:
        """Rows to read: past the bound by the sessions kept, so they cannot crowd others out."""
        return self.bounds.rows + len(self.keep) + len(self.own)

    def theirs(self, sessions: list[Session]) -> tuple[list[Session], list[int]]:
        """The sessions that are not the caller's (within the bound), and the ids of those that are."""
        mine = [s.id for s in sessions if s.id in self.keep or is_own(s.client, self.own)]
        return [s for s in sessions if s.id not in mine][: self.bounds.rows], mine


def is_own(client: str, own: frozenset[tuple[str, int]]) -> bool:
    address, _, port = client.rpartition(":")
    return port.isdigit() and (normal(address), int(port)) in own


class ChoreEngine(Protocol):
    """One engine's chores on the database of ``url``; ``redact`` masks secrets in query texts.
    ``keep`` lists session ids never to end, besides the caller's own connections."""

    async def sizes(self, url: str, bounds: Bounds) -> Sizes: ...

    async def long_queries(
        self, url: str, longer_than: float, bounds: Bounds, redact: Callable[[str], str]
    ) -> list[Session]: ...

    async def kill_idle(self, url: str, ask: IdleAsk) -> IdleSweep: ...

    async def vacuum(self, url: str, tables: list[str], analyze: bool, longest: float) -> Vacuum: ...


def clip(text: str | None, redact: Callable[[str], str]) -> str:
    """A query's text on one line, masked, at most ``QUERY_TEXT`` characters."""
    flat = " ".join(redact(text or "").split())
    return flat if len(flat) <= QUERY_TEXT else flat[: QUERY_TEXT - 1] + "…"
