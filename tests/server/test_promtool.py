"""The real ``promtool query instant|range|series|labels`` against a live ``vigil up`` that scrapes
the demo target: what Prometheus' own client prints, Vigil's API must have answered as Prometheus."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.server.conftest import VigilProcess, wait_until
from vigil.demo.process import start_target_process, stop_target_process

pytestmark = pytest.mark.slow


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: run scripts/install-peers.sh (Debian's prometheus package)")
    return found


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VigilProcess]:
    target, url = start_target_process()
    work = tmp_path_factory.mktemp("promtool")
    stack = work / "vigil.yaml"
    # promtool 2.42 sends headers (a bearer token) on range queries only: the others read openly.
    stack.write_text(
        "server: {public_read: true}\n"
        f"services:\n  demo:\n    metrics: {{url: '{url}/metrics', every: 1s}}\n"
        f"    checks:\n      health: {{http: '{url}/health', every: 1s}}\n"
    )
    process = VigilProcess(stack, f"sqlite:///{work}/vigil.db")
    try:
        process.start(wait=90)  # a start on a loaded 2-core machine can take half a minute
        process.token("viewer")
        yield process
    finally:
        if process.proc is not None:
            process.kill()
        stop_target_process(target)


def promtool(vigil: VigilProcess, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    command, rest = list(args[:1]), list(args[1:])
    header = ["--header", f"Authorization=Bearer {token}"] if token else []
    return subprocess.run(
        [_promtool(), "query", *command, *header, f"{vigil.url}/prometheus", *rest],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _scraped(vigil: VigilProcess) -> bool:
    done = promtool(vigil, "instant", "count(count_over_time(up[1m]) >= 10)")
    return done.returncode == 0 and "=> 1 @[" in done.stdout


def test_promtool_instant_range_series_and_labels_read_vigil(vigil: VigilProcess) -> None:
    # Ten scrapes a second apart: the range below has at least five 2 s steps with a sample.
    wait_until(lambda: _scraped(vigil), 60, "ten scrapes of the demo target")

    instant = promtool(vigil, "instant", 'up{job="demo"}')
    assert instant.returncode == 0, instant.stderr
    assert instant.stdout.startswith("up{") and "=> 1 @[" in instant.stdout

    now = time.time()
    window = ["--start", f"{now - 20:.3f}", "--end", f"{now:.3f}", "--step", "2s", "sum(up)"]
    ranged = promtool(vigil, "range", *window, token=vigil.token("viewer"))  # as Grafana sends it
    assert ranged.returncode == 0, ranged.stderr
    assert ranged.stdout.startswith("{} =>") and ranged.stdout.count("@[") >= 5
    refused = promtool(vigil, "range", *window, token="vgl_not-a-token")  # a bad token: refused
    assert refused.returncode == 1 and "unauthorized" in refused.stderr

    series = promtool(vigil, "series", "--match", 'up{job="demo"}')
    assert series.returncode == 0, series.stderr
    assert series.stdout.startswith('{__name__="up"') and 'job="demo"' in series.stdout

    labels = promtool(vigil, "labels", "__name__")
    assert labels.returncode == 0, labels.stderr
    assert "up" in labels.stdout.split() and "http_requests_total" in labels.stdout.split()


def test_promtool_shows_vigils_errors_as_prometheus_errors(vigil: VigilProcess) -> None:
    bad = promtool(vigil, "instant", "sum(up")
    assert bad.returncode == 1
    assert 'bad_data: invalid parameter "query"' in bad.stderr
    too_long = promtool(vigil, "range", "--start", "0", "--end", "100000", "--step", "1s", "up")
    assert too_long.returncode == 1 and "11,000 points" in too_long.stderr
