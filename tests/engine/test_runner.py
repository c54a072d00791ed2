"""Running one check: retries, timeouts and unexpected probe errors, against real local targets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from vigil.config.load import parse_stack
from vigil.config.secrets import Redactor
from vigil.config.stack import CheckSpec
from vigil.engine.runner import CheckRunner, ProbeSet


def spec(yaml_check: str) -> CheckSpec:
    stack = parse_stack("t.yaml", f"services:\n  s:\n    checks:\n      c: {yaml_check}\n", {})
    return stack.specs()[0]


@pytest.fixture
async def runner() -> AsyncIterator[CheckRunner]:
    probes = ProbeSet()
    yield CheckRunner(probes)
    await probes.aclose()


async def test_a_passing_check_takes_one_attempt(runner: CheckRunner) -> None:
    result = await runner.run(spec("{command: 'true', retries: 3}"))
    assert (result.ok, result.attempts, result.reason, result.check_id) == (True, 1, None, "s.c")


async def test_a_failing_check_is_retried_before_it_counts(runner: CheckRunner) -> None:
    result = await runner.run(spec("{command: 'false', retries: 2}"))
    assert (result.ok, result.attempts) == (False, 3)
    assert result.reason is not None


async def test_a_target_that_never_answers_fails_at_the_timeout(
    runner: CheckRunner, silent_port: int
) -> None:
    runner.probes.get("http")  # made first: loading its client library is no part of a check's time
    started = time.monotonic()
    result = await runner.run(spec(f"{{http: 'http://127.0.0.1:{silent_port}/', timeout: 300ms}}"))
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.reason == "timed out after 300ms"
    assert 0.25 < elapsed < 1.5


async def test_reasons_are_redacted_of_known_secrets() -> None:
    probes = ProbeSet()
    runner = CheckRunner(probes, redactor=Redactor({"s3cr3t-token"}))
    try:
        result = await runner.run(spec("{command: 'sh -c \"echo s3cr3t-token >&2; exit 4\"', shell: false}"))
    finally:
        await probes.aclose()
    assert not result.ok
    assert result.reason is not None
    assert "s3cr3t-token" not in result.reason
