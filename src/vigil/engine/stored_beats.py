"""Heartbeat checks in ``vigil check``: judged from the pings the store has, else not judged.

Pings reach ``vigil up``, which keeps each check's state (last success, a run started, a
failure) in the store with the pings. ``vigil check`` reads that state and applies the same
rule (``HeartbeatCheck.verdict``): a success within ``every`` + ``grace`` passes, a failure
after the last success fails. The time counts from the check's creation in the store, since a
one-off command cannot know when ``vigil up`` last started. A check the store has no ping
for, or no store at all, is not judged: a distinct status, failing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.config.stack import CheckSpec
from vigil.engine.clock import Clock
from vigil.probes.base import Result
from vigil.probes.heartbeat import HeartbeatCheck
from vigil.store.pings import HeartbeatRecord, beat_of, stored_records

NOT_JUDGED = "pings reach `vigil up`"


async def stored_verdicts(
    specs: Sequence[CheckSpec], store: AsyncEngine | None, clock: Clock, redact: Callable[[str], str]
) -> dict[str, Result]:
    """A result for each heartbeat check of ``specs``, by check id."""
    beats = [s for s in specs if isinstance(s.config, HeartbeatCheck)]
    records = await stored_records(store, [s.id for s in beats]) if store is not None and beats else {}
    now = clock.now()
    verdicts: dict[str, Result] = {}
    for spec in beats:
        record = records.get(spec.id)
        config = spec.config
        if record is None or not _pinged(record) or not isinstance(config, HeartbeatCheck):
            verdicts[spec.id] = Result(spec.id, True, 0.0, now, NOT_JUDGED, judged=False)
            continue
        observation = config.verdict(beat_of(record, "", config.heartbeat, record.created_at), now)
        reason = redact(observation.reason) if observation.reason else None
        verdicts[spec.id] = Result(spec.id, observation.ok, 0.0, now, reason, dict(observation.values))
    return verdicts


def _pinged(record: HeartbeatRecord) -> bool:
    return any(at is not None for at in (record.last_success_at, record.run_started_at, record.failed_at))
