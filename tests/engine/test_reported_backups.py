"""A backup made elsewhere (``engine: heartbeat``) on the heartbeat watch and a fake clock: its
recovery point is the last success ping, judged by the job's rpo; a ``fail`` ping and a start
that never succeeds within the job's timeout fail it too."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.engine.test_heartbeats import Watched, sqlite  # noqa: F401  (a fixture)
from vigil.engine.heartbeats import PingOutcome
from vigil.probes.backup import ReportedBackupCheck
from vigil.probes.heartbeat import Signal

STACK = """
backups:
  offsite: {engine: heartbeat, rpo: 1h, timeout: 20m}
"""


def key(w: Watched) -> str:
    return w.watch.beats["backups.offsite"].key


async def test_the_job_is_a_heartbeat_that_goes_stale_one_rpo_after_its_last_ping(
    sqlite: AsyncEngine,  # noqa: F811
) -> None:
    async with Watched(sqlite, STACK) as w:
        assert isinstance(w.watch.specs[0].config, ReportedBackupCheck)
        await w.clock.advance(600)
        assert w.watch.ping(key(w), Signal.SUCCESS) is PingOutcome.ACCEPTED
        await w.clock.advance(60)  # a success after a success is judged at the next minute
        assert w.results[-1].ok and 0 <= w.results[-1].values["recovery_point_seconds"] <= 60
        await w.clock.advance(3539)
        assert w.results[-1].ok
        await w.clock.advance(1)
        last = w.results[-1]
        assert (last.ok, last.values["recovery_point_seconds"]) == (False, 3600.0)
        assert last.reason == "the newest backup reported is 1h old (at 2026-01-01 00:10:00 UTC); rpo 1h"
        w.watch.ping(key(w), Signal.SUCCESS)
        await w.clock.advance(0)
        assert w.results[-1].ok


async def test_never_pinged_it_fails_one_rpo_after_vigil_began_to_watch(sqlite: AsyncEngine) -> None:  # noqa: F811
    async with Watched(sqlite, STACK) as w:
        await w.clock.advance(3599)
        assert all(r.ok for r in w.results)
        await w.clock.advance(1)  # judged at the deadline to the second
        assert w.results[-1].reason == "no backup reported in the 1h since 2026-01-01 00:00:00 UTC; rpo 1h"


async def test_a_fail_ping_fails_at_once_and_a_start_fails_only_past_the_timeout(
    sqlite: AsyncEngine,  # noqa: F811
) -> None:
    async with Watched(sqlite, STACK) as w:
        w.watch.ping(key(w), Signal.FAIL, exit_status=1, body=b"pg_dump: error: disk full")
        await w.clock.advance(0)
        assert w.results[-1].reason == (
            "the last backup reported a failure at 2026-01-01 00:00:00 UTC: exit status 1: pg_dump: error: disk full"
        )
        await w.clock.advance(1)
        w.watch.ping(key(w), Signal.SUCCESS)
        await w.clock.advance(0)
        assert w.results[-1].ok
        w.watch.ping(key(w), Signal.START)
        judged = len(w.results)
        await w.clock.advance(1199)
        assert all(r.ok for r in w.results[judged:]) and len(w.results) - judged < 25  # each minute, no more
        await w.clock.advance(1)
        assert w.results[-1].reason == (
            "a backup started at 2026-01-01 00:00:01 UTC reported no success within its timeout of 20m"
        )


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ("{engine: heartbeat}", "vigil.yaml:3:3: backups.offsite.rpo: missing required key 'rpo'"),
        (
            "{engine: heartbeat, rpo: 1h, schedule: '0 2 * * *'}",
            "backups.offsite.schedule: unknown key 'schedule'",
        ),
        ("{engine: heartbeat, rpo: 0s}", "backups.offsite.rpo: must be longer than 0s"),
        (
            "{engine: heartbeet, rpo: 1h}",
            "3:21: backups.offsite.engine: unknown backup engine 'heartbeet'; known: mariadb, mongodb, postgres, qdrant, redis, "
            "sqlite, heartbeat",
        ),
    ],
)
def test_a_wrong_reported_job_is_one_line_at_its_place(job: str, message: str) -> None:
    from vigil.config.load import parse_stack
    from vigil.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_stack("vigil.yaml", f"\nbackups:\n  offsite: {job}\n")
    assert message in str(caught.value)


def test_a_given_key_is_a_secret_and_may_not_be_another_checks() -> None:
    from vigil.config.load import parse_stack
    from vigil.errors import ConfigError

    key = "offsite-backup-key-0123456789"
    text = STACK.replace("timeout: 20m", "key: '${KEY}'")
    stack = parse_stack("vigil.yaml", text, {"KEY": key})
    assert stack.redactor(f"/ping/{key}") == "/ping/***"
    assert key not in stack.specs()[0].config.target
    twice = text + "services:\n  worker:\n    checks:\n      beat: {heartbeat: {every: 1m, key: '${KEY}'}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_stack("vigil.yaml", twice, {"KEY": key})
    assert str(caught.value) == (
        "vigil.yaml:3:46: backups.offsite.key: has the same ping key as worker.beat (line 7); give each its own key"
    )
