"""Silences: label matchers with a start and an end; a silenced alert stays visible but pages no one.

Matchers follow Alertmanager: ``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``;
regexes are anchored (``=~P[12]`` does not match ``P12``) and a missing label reads as the
empty string. A silence needs at least one matcher that the empty string fails, or it would
quietly silence every alert there is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.engine.clock import Clock
from vigil.errors import ConflictError, NotFoundError, VigilError
from vigil.incidents.model import iso, utc
from vigil.store.tables import SilenceRow

_LABEL = r"[A-Za-z_][A-Za-z0-9_]*"
_SHAPE = re.compile(rf"\s*({_LABEL})\s*(=~|!~|!=|=)\s*(.*?)\s*", re.DOTALL)
COMMENT_LIMIT = 10_000
MATCHER_LIMIT = 50


class QuietError(VigilError):
    """A silence or maintenance window that cannot be made as asked: a bad matcher, an end
    before its start (API: 422)."""

    status_code = 422
    exit_code = 2


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(_LABEL, self.name):
            raise QuietError(f"{self.name!r} is not a label name; use letters, digits and '_'")
        if self.op in (MatchOp.RE, MatchOp.NRE):
            try:
                object.__setattr__(self, "_regex", re.compile(self.value))
            except re.error as err:
                raise QuietError(
                    f"{self.name}{self.op}{self.value}: not a regular expression ({err})"
                ) from None

    @classmethod
    def build(cls, name: str, op: str, value: str) -> Matcher:
        try:
            kind = MatchOp(op)
        except ValueError:
            raise QuietError(f"unknown matcher operator {op!r}; use =, !=, =~ or !~") from None
        return cls(name, kind, value)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``service=api``, ``severity=~P[12]``; a value may be double-quoted (``env!="prod x"``)."""
        found = _SHAPE.fullmatch(text)
        if found is None:
            raise QuietError(
                f"{text!r} is not a matcher; write name=value, name!=value, name=~regex or name!~regex"
            )
        name, op, value = found.groups()
        if value.startswith('"'):
            value = _unquote(value, text)
        return cls.build(name, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        # fullmatch anchors the regex at both ends, as Alertmanager does.
        found = self._regex.fullmatch(actual) is not None if self._regex else False
        return found if self.op is MatchOp.RE else not found

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": str(self.op), "value": self.value}

    def __str__(self) -> str:
        plain = self.value and not re.search(r'[\s,"]', self.value)
        return f"{self.name}{self.op}{self.value if plain else json.dumps(self.value)}"


def _unquote(value: str, text: str) -> str:
    try:
        unquoted = json.loads(value) if len(value) >= 2 and value.endswith('"') else None
    except json.JSONDecodeError:
        unquoted = None
    if not isinstance(unquoted, str):
        raise QuietError(f"{text!r} is not a matcher: its quoted value is not closed properly")
    return unquoted


def parse_matchers(items: Sequence[str | Matcher]) -> list[Matcher]:
    return [m if isinstance(m, Matcher) else Matcher.parse(m) for m in items]


def matchers_from(data: Sequence[Mapping[str, str]]) -> tuple[Matcher, ...]:
    return tuple(Matcher.build(d["name"], d["op"], d["value"]) for d in data)


def all_match(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime

    def state(self, now: datetime) -> SilenceState:
        if now >= self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.ACTIVE if now >= self.starts_at else SilenceState.PENDING

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all_match(self.matchers, labels)

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [m.as_dict() for m in self.matchers],
            "state": str(self.state(now)),
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at": iso(self.created_at),
        }

    @classmethod
    def from_row(cls, row: Any) -> Silence:
        return cls(
            id=row.id,
            matchers=matchers_from(row.matchers),
            starts_at=utc(row.starts_at),
            ends_at=utc(row.ends_at),
            created_by=row.created_by,
            comment=row.comment,
            created_at=utc(row.created_at),
        )


def span(
    now: datetime, starts_at: datetime | None, ends_at: datetime | None, duration: float | None
) -> tuple[datetime, datetime]:
    """Start and end of a silence or window from what a person gave: an end, or a duration; in
    UTC, whatever offset the times came with, so what is shown and stored is one instant."""
    start = _instant(starts_at, "start") if starts_at else now.astimezone(UTC)
    if (ends_at is None) == (duration is None):
        raise QuietError("give either an end time or a duration (e.g. 2h), not both or neither")
    if duration is not None and duration <= 0:
        raise QuietError("the duration must be longer than 0s")
    end = _instant(ends_at, "end") if ends_at is not None else start + timedelta(seconds=duration or 0)
    if end <= start:
        raise QuietError(f"the end ({iso(end)}) must come after the start ({iso(start)})")
    if end <= now:
        raise QuietError(f"the end ({iso(end)}) is already past")
    return start, end


def _instant(moment: datetime, what: str) -> datetime:
    if moment.utcoffset() is None:
        raise QuietError(
            f"the {what} ({moment.isoformat()}) has no time zone; add one, e.g. {moment.isoformat()}Z"
        )
    return moment.astimezone(UTC)


class SilenceService:
    """Creating, listing and expiring silences; ``on_change`` lets a cache (``QuietRules``) drop its copy."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock, on_change: Callable[[], None] | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.on_change = on_change or (lambda: None)

    async def create(
        self,
        matchers: Sequence[str | Matcher],
        *,
        comment: str,
        created_by: str,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        duration: float | None = None,
    ) -> Silence:
        parsed = parse_matchers(matchers)
        if not parsed or len(parsed) > MATCHER_LIMIT:
            raise QuietError(f"a silence needs between 1 and {MATCHER_LIMIT} matchers, e.g. service=api")
        if all(m.matches({}) for m in parsed):
            raise QuietError(
                "these matchers also match alerts without the label, so they would silence everything; "
                "add one that needs a value, e.g. service=api"
            )
        comment = comment.strip()
        if not comment or len(comment) > COMMENT_LIMIT:
            raise QuietError(
                f"a silence needs a comment (at most {COMMENT_LIMIT:,} characters): why, and who"
            )
        now = self.clock.now()
        start, end = span(now, starts_at, ends_at, duration)
        values = {
            "matchers": [m.as_dict() for m in parsed],
            "starts_at": start,
            "ends_at": end,
            "created_by": created_by[:200],
            "comment": comment,
            "created_at": now,
        }
        async with self.engine.begin() as conn:
            silence_id = (
                await conn.execute(insert(SilenceRow).values(values).returning(SilenceRow.id))
            ).scalar_one()
        self.on_change()
        return Silence(silence_id, tuple(parsed), start, end, created_by, comment, now)

    async def get(self, silence_id: int) -> Silence:
        async with self.engine.connect() as conn:
            return await _fetch(conn, silence_id)

    async def list(self, *, include_expired: bool = False, limit: int | None = 500) -> list[Silence]:
        """Active and pending silences, newest first; expired ones too with ``include_expired``."""
        query = select(SilenceRow).order_by(SilenceRow.id.desc()).limit(limit)
        if not include_expired:
            query = query.where(SilenceRow.ends_at > self.clock.now())
        async with self.engine.connect() as conn:
            return [Silence.from_row(r) for r in (await conn.execute(query)).all()]

    async def expire(self, silence_id: int) -> Silence:
        """End a silence now; a pending one ends before it began, so it never silenced anything."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            silence = await _fetch(conn, silence_id)
            if silence.state(now) is SilenceState.EXPIRED:
                raise ConflictError(f"silence {silence_id} already ended at {iso(silence.ends_at)}")
            start = min(silence.starts_at, now)
            await conn.execute(
                update(SilenceRow).where(SilenceRow.id == silence_id).values(starts_at=start, ends_at=now)
            )
        self.on_change()
        return replace(silence, starts_at=start, ends_at=now)


async def _fetch(conn: AsyncConnection, silence_id: int) -> Silence:
    row = (await conn.execute(select(SilenceRow).where(SilenceRow.id == silence_id))).first()
    if row is None:
        raise NotFoundError(f"no silence {silence_id}")
    return Silence.from_row(row)
