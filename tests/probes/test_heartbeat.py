"""The heartbeat kind's stack-file shape and its verdict on the pings received, at given moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vigil.config.load import parse_stack
from vigil.errors import ConfigError
from vigil.probes.heartbeat import Beat, HeartbeatCheck, HeartbeatProbe, HeartbeatTimes, Signal, judge

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMES = HeartbeatTimes(every=60.0, grace=30.0)


def beat() -> Beat:
    return Beat("worker.beat", "k" * 24, TIMES, since=T0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_with_no_ping_the_check_passes_until_every_plus_grace_then_fails() -> None:
    b = beat()
    assert judge(b, at(89.9)).ok
    verdict = judge(b, at(90))
    assert not verdict.ok
    assert verdict.reason == (
        "no ping in the 1m30s since 2026-03-01 12:00:00 UTC; expected every 1m (grace 30s)"
    )


def test_each_success_moves_the_deadline_and_a_late_one_says_when_it_last_came() -> None:
    b = beat()
    b.record(Signal.SUCCESS, at(50))
    assert judge(b, at(139)).ok
    assert judge(b, at(139)).values == {"since_last_ping_seconds": 89.0}
    late = judge(b, at(145))
    assert late.reason == "last ping 1m35s ago, at 2026-03-01 12:00:50 UTC; expected every 1m (grace 30s)"


def test_a_run_from_start_to_success_keeps_its_duration() -> None:
    b = beat()
    b.record(Signal.START, at(10))
    b.record(Signal.SUCCESS, at(22.5))
    verdict = judge(b, at(30))
    assert verdict.ok
    assert verdict.values == {"since_last_ping_seconds": 7.5, "run_seconds": 12.5}


def test_a_started_run_without_success_within_the_grace_fails() -> None:
    b = beat()
    b.record(Signal.START, at(10))
    assert judge(b, at(39)).ok
    assert judge(b, at(40)).reason == (
        "started at 2026-03-01 12:00:10 UTC, no success within the grace of 30s"
    )


def test_a_failure_fails_at_once_until_the_next_success() -> None:
    b = beat()
    b.record(Signal.SUCCESS, at(1))
    b.record(Signal.FAIL, at(5), "exit status 2: pg_dump: connection refused")
    verdict = judge(b, at(5))
    assert not verdict.ok
    assert verdict.reason == (
        "the job reported a failure at 2026-03-01 12:00:05 UTC: exit status 2: pg_dump: connection refused"
    )
    b.record(Signal.LOG, at(6))
    assert not judge(b, at(6)).ok
    b.record(Signal.SUCCESS, at(7))
    assert judge(b, at(7)).ok


def test_after_a_restart_the_check_is_judged_from_the_start_not_from_an_old_ping() -> None:
    b = Beat("worker.beat", "k" * 24, TIMES, since=at(3600), last_success=at(0))
    assert judge(b, at(3600 + 89)).ok  # pings sent while Vigil was down were lost, not missed
    assert not judge(b, at(3600 + 90)).ok


def stack(check: str, environ: dict[str, str] | None = None) -> HeartbeatCheck:
    text = f"services:\n  worker:\n    checks:\n      beat: {check}\n"
    [spec] = parse_stack("vigil.yaml", text, environ or {}).specs()
    assert isinstance(spec.config, HeartbeatCheck)
    return spec.config


def test_the_stack_file_shape_reads_and_pages_at_the_first_failure() -> None:
    config = stack("{heartbeat: {every: 1m, grace: 30s}}")
    assert (config.heartbeat.every, config.heartbeat.grace, config.heartbeat.key) == (60.0, 30.0, None)
    assert config.alert is not None and config.alert.after == 1
    assert stack("{heartbeat: {every: 1m}, alert: {after: 2}}").alert.after == 2  # type: ignore[union-attr]


def test_a_given_key_is_never_the_checks_target() -> None:
    config = stack("{heartbeat: {every: 1m, key: '${BEAT_KEY}'}}", {"BEAT_KEY": "s3cret-key-0123456789"})
    assert config.heartbeat.key == "s3cret-key-0123456789"
    assert config.target == "ping every 1m, grace 1m"


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("{heartbeat: {every: 1m, key: short-secret}}", "a ping key needs 16 to 100 letters"),
        ("{heartbeat: {every: 1m}, schedule: '0 3 * * *'}", "a heartbeat is judged from its pings"),
        ("{heartbeat: {every: 0s}}", "every must be longer than 0s"),
    ],
)
def test_a_wrong_heartbeat_is_a_fault_that_never_repeats_the_key(check: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        stack(check)
    assert message in str(caught.value)
    assert "short-secret" not in str(caught.value)


async def test_vigil_check_has_no_pings_and_says_so() -> None:
    from vigil.errors import ProbeError

    with pytest.raises(ProbeError, match="judged by `vigil up` from the pings it receives"):
        await HeartbeatProbe().observe(stack("{heartbeat: {every: 1m}}"))
