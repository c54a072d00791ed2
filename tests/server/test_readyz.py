"""/readyz and /metrics know the state of the store and of every stage: a state folder deleted
under a running server, a store replaced, a full disk; and a store made afresh never repeats
the idempotency keys of the one before."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import select

from tests.server.conftest import served
from tests.store.full_disk import FullDisk
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.severity import Severity
from vigil.probes.base import Result
from vigil.server.runtime import Runtime
from vigil.store.database import open_database
from vigil.store.tables import OutboxRow

STACK = """
notify:
  channels:
    hook: {webhook: "http://127.0.0.1:9/hook"}
  default: [hook]
"""


async def eventually(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.02)


async def test_a_state_folder_deleted_under_a_running_server_makes_it_not_ready(tmp_path: Path) -> None:
    state = tmp_path / ".vigil"
    async with served(state, STACK, start=True) as (client, _runtime, _clock):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"store": "ok", "scheduler": "ok"}

        shutil.rmtree(state)
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["store"] == (
            f"the store {state / 'vigil.db'} was deleted under Vigil; restart Vigil to make a new one"
        )
        # The process itself still turns: an orchestrator restarts it for readiness, not liveness.
        assert (await client.get("/livez")).status_code == 200


async def test_a_store_replaced_under_a_running_server_makes_it_not_ready(tmp_path: Path) -> None:
    state = tmp_path / ".vigil"
    async with served(state, STACK, start=True) as (client, _runtime, _clock):
        shutil.rmtree(state)
        other = await open_database(f"sqlite:///{state}/vigil.db")  # a second Vigil, or a restore
        try:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert "was replaced by another file" in ready.json()["checks"]["store"]
        finally:
            await other.dispose()


async def test_a_full_disk_shows_the_writer_failing_in_readyz_and_metrics(tmp_path: Path) -> None:
    async with served(tmp_path / ".vigil", STACK, start=True) as (client, runtime, clock):
        disk = FullDisk(runtime.engine)
        disk.full = True
        for i in range(200):
            await runtime.writer.accept(Result(f"api.c{i}", True, 3.0, clock.now(), "y" * 300))
        writer = runtime.supervisor.stage("writer")
        await eventually(lambda: _answers(client, 503), "/readyz to say the writer fails")
        body = (await client.get("/readyz")).json()
        assert body["checks"]["writer"] == "failing: OperationalError: database or disk is full"
        assert body["stages"]["writer"]["since"] == clock.now().isoformat()
        assert body["stages"]["scheduler"] == {"status": "ok", "restarts": 0}
        metrics = (await client.get("/metrics")).text
        assert 'vigil_stage_up{stage="writer"} 0.0' in metrics
        assert 'vigil_stage_up{stage="scheduler"} 1.0' in metrics
        assert "vigil_results_dropped_total 0.0" in metrics

        await clock.advance(1)  # the writer's first retry, refused again
        await eventually(lambda: _true(writer.restarts == 2), "the writer's retry to be refused")
        assert (
            f'vigil_stage_restarts_total{{stage="writer"}} {float(writer.restarts)}'
            in (await client.get("/metrics")).text
        )

        disk.full = False
        await clock.advance(5)
        await eventually(lambda: _answers(client, 200), "/readyz to be ready again")
        assert 'vigil_stage_up{stage="writer"} 1.0' in (await client.get("/metrics")).text
        assert len(await runtime.results.recent("api.c199")) == 1


async def test_a_store_made_afresh_never_repeats_an_idempotency_key(tmp_path: Path) -> None:
    state = tmp_path / ".vigil"
    keys: list[str] = []
    for _ in range(2):
        engine = await open_database(f"sqlite:///{state}/vigil.db")
        runtime = Runtime(parse_stack("vigil.yaml", STACK, {}), engine, clock=FakeClock())
        incident = await runtime.incidents.open(
            key="check:api.health",
            title="api.health is failing",
            severity=Severity.P1,
            service="api",
            check_id=None,
            reason="status 503",
            channels=None,
            trigger="api.health failed",
        )
        assert incident is not None and incident.id == 1  # a fresh store counts from 1 again
        async with engine.connect() as conn:
            keys += (await conn.execute(select(OutboxRow.key))).scalars().all()
        await runtime.stop()
        await engine.dispose()
        shutil.rmtree(state)  # rm -rf .vigil, then Vigil starts again
    assert len(keys) == 2 and len(set(keys)) == 2, keys
    assert all(k.startswith("incident-") and k.endswith("-1-triggered-hook") for k in keys)


async def _answers(client: httpx.AsyncClient, status: int) -> bool:
    return (await client.get("/readyz")).status_code == status


async def _true(value: bool) -> bool:
    return value
