"""``promql`` steps: over Vigil's own series store (inside ``vigil up``), over a real Prometheus
named by ``prometheus:``, and the honest failure where neither is there."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.metrics.test_scrape import scrapes_done, start_prometheus
from tests.runbooks.procedures import write
from tests.runbooks.shared import ECHO, shared_runbook
from vigil.config.load import load_stack
from vigil.engine.clock import FakeClock
from vigil.metrics.store import SeriesStore
from vigil.runbooks.library import load_library
from vigil.runbooks.outcome import RunExit, RunRequest, StepStatus
from vigil.runbooks.runner import ProcedureRunner
from vigil.runbooks.steps.promql import NO_SERIES, expressions

NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def traffic() -> SeriesStore:
    """Ten minutes of an API's counters: 3 requests/s, 0.3 of them 500s; latency buckets."""
    store = SeriesStore()
    end = NOW.timestamp()
    for i in range(41):
        t = end - 600 + i * 15
        elapsed = i * 15
        store.append({"__name__": "http_requests_total", "status": "200"}, t, 2.7 * elapsed)
        store.append({"__name__": "http_requests_total", "status": "500"}, t, 0.3 * elapsed)
        for le, per_second in (("0.1", 1.0), ("0.5", 2.0), ("1", 3.0), ("+Inf", 3.0)):
            store.append(
                {"__name__": "http_request_duration_seconds_bucket", "le": le}, t, per_second * elapsed
            )
    return store


async def test_the_echo_runbooks_metrics_block_over_the_series_store(tmp_path: Path) -> None:
    shutil.copy(shared_runbook(ECHO), tmp_path / "ops.md")
    stack = load_stack(write(tmp_path, (tmp_path / "ops.md").read_text()), {})
    runner = ProcedureRunner(stack, load_library(stack), None, series=traffic(), clock=FakeClock(NOW))

    outcome = await runner.run(RunRequest("ops.md#key-metrics-to-monitor", "ana", step=1))

    assert outcome.exit is RunExit.OK, outcome.steps[0].output
    assert outcome.steps[0].output.splitlines() == [
        "=> rate(http_requests_total[5m])",
        '{status="200"} 2.7',
        '{status="500"} 0.3',
        "(2 series)",
        '=> rate(http_requests_total{status=~"5.."}[5m]) / rate(http_requests_total[5m])',
        '{status="500"} 1',
        "(1 series)",
        "=> histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))",
        "{} 0.925",
        "(1 series)",
    ]


async def test_sort_and_topk_answers_keep_prometheus_order(tmp_path: Path) -> None:
    code = "sort_desc(rate(http_requests_total[5m]))\n\nbottomk(2, rate(http_requests_total[5m]))"
    stack = load_stack(write(tmp_path, f"# Ops\n## M\n```promql\n{code}\n```\n"), {})
    runner = ProcedureRunner(stack, load_library(stack), None, series=traffic(), clock=FakeClock(NOW))

    step = (await runner.run(RunRequest("M", "ana"))).steps[0]

    assert step.status is StepStatus.SUCCEEDED, step.output
    assert step.output.splitlines() == [
        "=> sort_desc(rate(http_requests_total[5m]))",
        '{status="200"} 2.7',
        '{status="500"} 0.3',
        "(2 series)",
        "=> bottomk(2, rate(http_requests_total[5m]))",
        '{status="500"} 0.3',
        '{status="200"} 2.7',
        "(2 series)",
    ]


async def test_a_bad_expression_fails_the_step_naming_it(tmp_path: Path) -> None:
    stack = load_stack(write(tmp_path, "# Ops\n## M\n```promql\nup\n\nrate(up[5m]\n```\n"), {})
    runner = ProcedureRunner(stack, load_library(stack), None, series=traffic(), clock=FakeClock(NOW))

    step = (await runner.run(RunRequest("M", "ana"))).steps[0]

    assert step.status is StepStatus.FAILED
    assert step.output.splitlines()[:3] == ["=> up", "(no series)", "=> rate(up[5m]"]
    assert step.reason.startswith("expression 2: ")


async def test_from_the_shell_without_prometheus_the_step_says_where_it_runs(tmp_path: Path) -> None:
    stack = load_stack(write(tmp_path, "# Ops\n## M\n```promql\nup\n```\n"), {})

    step = (await ProcedureRunner(stack, load_library(stack), None).run(RunRequest("M", "ana"))).steps[0]

    assert (step.status, step.reason) == (StepStatus.FAILED, NO_SERIES)


async def test_with_prometheus_in_the_stack_file_the_step_queries_it(tmp_path: Path) -> None:
    process, url = start_prometheus(tmp_path, {"self": "127.0.0.1:1"})
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5.0) as client:
            await scrapes_done(client, {"self"}, 2)
        stack = load_stack(
            write(tmp_path, "# Ops\n## M\n```prometheus\nup\n# a scalar\n1 + 1\n```\n", {"prometheus": url}),
            {},
        )

        step = (await ProcedureRunner(stack, load_library(stack), None).run(RunRequest("M", "ana"))).steps[0]

        assert step.status is StepStatus.SUCCEEDED, step.output
        assert step.output.splitlines() == [
            "=> up",
            'up{instance="127.0.0.1:1", job="self"} 0',
            "(1 series)",
            "=> 1 + 1",
            "scalar 2",
        ]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_expressions_are_split_on_blank_and_comment_lines() -> None:
    assert expressions("# rate\nsum(rate(x[5m]))\n  by (job)\n\n// two\ny\n# end") == [
        "sum(rate(x[5m])) by (job)",
        "y",
    ]
