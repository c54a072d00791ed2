"""The ``system`` probe on this host, plus its judging and CPU arithmetic on fixed readings."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import pytest
from pydantic import ValidationError

from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes import system
from vigil.probes.base import Result
from vigil.probes.system import Reading, SystemCheck, SystemProbe

PERCENT = r"\d+\.\d"


async def run(runner: CheckRunner, **fields: Any) -> Result:
    return await runner.run(CheckSpec("host", "sys", SystemCheck.model_validate(fields)))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"system": "disk", "expect": {"free_percent_min": 0}}, None, id="disk with room passes"),
        pytest.param(
            {"system": "disk", "expect": {"free_percent_min": 100}},
            rf"disk / {PERCENT}% free, expected at least 100%",
            id="disk below its free minimum fails",
        ),
        pytest.param(
            {"system": "disk", "expect": {"used_percent_max": 0}},
            rf"disk / {PERCENT}% used, expected at most 0%",
            id="disk above its used maximum fails",
        ),
        pytest.param({"system": "memory", "expect": {"used_percent_max": 100}}, None, id="memory passes"),
        pytest.param(
            {"system": "memory", "expect": {"used_percent_max": 0}},
            rf"memory {PERCENT}% used, expected at most 0%",
            id="memory above its used maximum fails",
        ),
        pytest.param(
            {"system": "memory", "expect": {"free_percent_min": 100}},
            rf"memory {PERCENT}% available, expected at least 100%",
            id="memory below its available minimum fails",
        ),
        pytest.param({"system": "cpu", "expect": {"used_percent_max": 100}}, None, id="cpu passes"),
        pytest.param({"system": "cpu"}, None, id="no thresholds only measures"),
    ],
)
async def test_this_host_is_judged_against_thresholds(
    runner: CheckRunner, fields: dict[str, Any], reason: str | None
) -> None:
    result = await run(runner, **fields)

    if reason is None:
        assert result.ok, result.reason
    else:
        assert not result.ok
        assert result.reason is not None and re.fullmatch(reason, result.reason), result.reason


@pytest.mark.parametrize(
    ("kind", "percents", "byte_counts"),
    [
        pytest.param("disk", {"free_percent", "used_percent"}, {"free_bytes"}, id="disk"),
        pytest.param("memory", {"used_percent"}, {"available_bytes"}, id="memory"),
        pytest.param("cpu", {"used_percent"}, set(), id="cpu"),
    ],
)
async def test_each_measurement_reports_percentages_and_byte_counts(
    kind: str, percents: set[str], byte_counts: set[str]
) -> None:
    observation = await SystemProbe().observe(SystemCheck.model_validate({"system": kind}))

    assert set(observation.values) == percents | byte_counts
    for name in percents:
        assert 0 <= observation.values[name] <= 100, name
    for name in byte_counts:
        assert observation.values[name] > 0, name


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/nope/vigil", id="a missing directory"),
        pytest.param("{tmp}/file/below", id="a path through a file"),
    ],
)
async def test_a_disk_path_that_does_not_exist_fails_with_one_line(
    runner: CheckRunner, tmp_path: Path, path: str
) -> None:
    (tmp_path / "file").write_text("")
    path = path.format(tmp=tmp_path)

    result = await run(runner, system="disk", path=path)

    assert (result.ok, result.reason) == (False, f"path {path} does not exist")


async def test_disk_usage_is_read_off_the_event_loop_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hung NFS mount blocks statvfs; that must stall a worker thread, not every other check.
    threads: list[threading.Thread] = []
    measure = psutil.disk_usage

    def spy(path: str) -> Any:
        threads.append(threading.current_thread())
        return measure(path)

    monkeypatch.setattr(psutil, "disk_usage", spy)

    await SystemProbe().observe(SystemCheck.model_validate({"system": "disk"}))

    assert threads and threads[0] is not threading.main_thread()


@pytest.mark.parametrize(
    ("fields", "reading", "reason"),
    [
        pytest.param(
            {"system": "disk", "expect": {"free_percent_min": 10}},
            Reading(92.8, 7.2, "free", {}),
            "disk / 7.2% free, expected at least 10%",
            id="disk short of free space",
        ),
        pytest.param(
            {"system": "disk", "path": "/var", "expect": {"free_percent_min": 10}},
            Reading(80.0, 20.0, "free", {}),
            None,
            id="disk with enough free space",
        ),
        pytest.param(
            {"system": "memory", "expect": {"used_percent_max": 90}},
            Reading(93.1, 6.9, "available", {}),
            "memory 93.1% used, expected at most 90%",
            id="memory over its maximum",
        ),
        pytest.param(
            {"system": "cpu", "expect": {"used_percent_max": 90}},
            Reading(90.0, 10.0, "idle", {}),
            None,
            id="cpu exactly at its maximum",
        ),
    ],
)
def test_reasons_name_the_measurement_its_value_and_the_bound(
    fields: dict[str, Any], reading: Reading, reason: str | None
) -> None:
    observation = system._judge(SystemCheck.model_validate(fields), reading)

    assert (observation.ok, observation.reason) == (reason is None, reason)


class Times(NamedTuple):
    user: float
    nice: float
    system: float
    idle: float
    iowait: float
    guest: float
    guest_nice: float


@pytest.fixture
def cpu_readings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Times]]:
    readings: list[Times] = []
    monkeypatch.setattr(psutil, "cpu_times", lambda: readings.pop(0))
    monkeypatch.setattr(system, "CPU_SAMPLE_SECONDS", 0)
    yield readings


@pytest.mark.parametrize(
    ("before", "after", "used"),
    [
        pytest.param(Times(10, 0, 0, 90, 0, 0, 0), Times(30, 0, 10, 150, 10, 0, 0), 30.0, id="busy share"),
        pytest.param(Times(0, 0, 0, 0, 0, 0, 0), Times(50, 0, 0, 50, 0, 20, 0), 50.0, id="guest not twice"),
        pytest.param(Times(5, 0, 0, 5, 0, 0, 0), Times(5, 0, 0, 5, 0, 0, 0), 0.0, id="no time passed"),
    ],
)
async def test_cpu_use_is_the_busy_share_between_two_readings(
    cpu_readings: list[Times], before: Times, after: Times, used: float
) -> None:
    cpu_readings.extend([before, after])

    observation = await SystemProbe().observe(SystemCheck.model_validate({"system": "cpu"}))

    assert observation.values == {"used_percent": used}


def test_a_free_minimum_on_cpu_is_rejected_when_loaded() -> None:
    with pytest.raises(ValidationError, match="free_percent_min does not apply to cpu"):
        SystemCheck.model_validate({"system": "cpu", "expect": {"free_percent_min": 10}})
