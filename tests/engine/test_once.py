"""``run_once`` on heartbeat checks: judged from the pings a real watch put in a real store (on a
fake clock, the rule ``vigil up`` applies), and not judged where the store has none."""

from __future__ import annotations

import random
from pathlib import Path

from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.engine.heartbeats import HeartbeatWatch
from vigil.engine.once import run_once
from vigil.engine.stored_beats import NOT_JUDGED
from vigil.probes.base import Result, Status
from vigil.probes.heartbeat import Signal
from vigil.store.database import open_database

STACK = """
services:
  worker:
    checks:
      beat: {heartbeat: {every: 1m, grace: 30s}}
      quiet: {heartbeat: {every: 1m}}
"""


async def pinged(
    url: str, clock: FakeClock, *signals: tuple[Signal, float, bytes | None], text: str = STACK
) -> None:
    """``vigil up``'s watch of ``text``'s ``worker.beat`` receiving ``signals`` (each after its
    wait in seconds), into the store at ``url``."""
    engine = await open_database(url)
    stack = parse_stack("vigil.yaml", text, {})

    async def submit(result: Result) -> None:
        return None

    watch = HeartbeatWatch(
        stack.specs(), engine, submit, clock, stack.redactor, retention=86400, rng=random.Random(1)
    )
    await watch.load()
    key = watch.beats["worker.beat"].key
    for signal, wait, body in signals:
        await clock.advance(wait)
        watch.ping(key, signal, exit_status=2 if signal is Signal.FAIL else None, body=body)
    await watch.writer.flush()
    await engine.dispose()


async def verdicts(url: str | None, clock: FakeClock) -> dict[str, Result]:
    results = await run_once(parse_stack("vigil.yaml", STACK, {}), clock=clock, store=url)
    return {r.check_id: r for r in results}


async def test_a_recent_success_passes_and_a_late_one_fails_as_vigil_up_judges(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path}/vigil.db", FakeClock()
    await pinged(url, clock, (Signal.START, 10, None), (Signal.SUCCESS, 4, None))
    await clock.advance(89)
    fresh = await verdicts(url, clock)
    assert fresh["worker.beat"].status is Status.OK
    assert dict(fresh["worker.beat"].values) == {"since_last_ping_seconds": 89.0, "run_seconds": 4.0}
    await clock.advance(1)
    late = (await verdicts(url, clock))["worker.beat"]
    assert late.status is Status.FAILED
    assert late.reason == ("last ping 1m30s ago, at 2026-01-01 00:00:14 UTC; expected every 1m (grace 30s)")


async def test_a_failure_after_the_last_success_fails_with_what_the_job_said(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path}/vigil.db", FakeClock()
    body = b"dumping\nERROR: disk full\n"
    await pinged(url, clock, (Signal.SUCCESS, 1, None), (Signal.FAIL, 2, body))
    failed = (await verdicts(url, clock))["worker.beat"]
    assert failed.status is Status.FAILED
    assert (
        failed.reason
        == "the job reported a failure at 2026-01-01 00:00:03 UTC: exit status 2: ERROR: disk full"
    )


async def test_a_check_with_no_ping_in_the_store_or_no_store_is_not_judged(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path}/vigil.db", FakeClock()
    await pinged(url, clock, (Signal.SUCCESS, 1, None))
    quiet = (await verdicts(url, clock))["worker.quiet"]
    assert (quiet.status, quiet.reason, quiet.as_dict()["ok"]) == (Status.NOT_JUDGED, NOT_JUDGED, None)
    nowhere = await verdicts(f"sqlite:///{tmp_path}/none/vigil.db", clock)
    assert {r.status for r in nowhere.values()} == {Status.NOT_JUDGED}
    assert not (tmp_path / "none").exists()
    assert {r.status for r in (await verdicts(None, clock)).values()} == {Status.NOT_JUDGED}
