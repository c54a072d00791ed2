"""When the store refuses writes for over a minute, Vigil tells its channels directly (the outbox
lives in that store), once, and again when the store takes writes once more."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.notify.conftest import Receiver
from tests.store.full_disk import FullDisk
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.probes.base import Result
from vigil.server.runtime import Runtime
from vigil.store.database import open_database


async def wait_for(receiver: Receiver, count: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while len(receiver.accepted) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the receiver got {len(receiver.accepted)} notices, not {count}")
        await asyncio.sleep(0.02)


async def test_a_store_unwritable_for_a_minute_is_told_to_the_channels_and_its_recovery_too(
    tmp_path: Path, receiver: Receiver
) -> None:
    stack = f'notify:\n  channels:\n    hook: {{webhook: "{receiver.url}"}}\n  default: [hook]\n'
    clock = FakeClock()
    engine = await open_database(f"sqlite:///{tmp_path}/vigil.db")
    runtime = Runtime(parse_stack("vigil.yaml", stack, {}), engine, clock=clock)
    await runtime.start()
    try:
        disk = FullDisk(engine)
        disk.full = True
        receiver.fail_first = 1  # the channel is down at the first try: it hears at the next look
        for i in range(200):
            await runtime.writer.accept(Result(f"api.c{i}", True, 3.0, clock.now(), "z" * 300))
        writer = runtime.supervisor.stage("writer")
        for _ in range(500):  # the writer flushes on its own real-time interval
            if writer.failing_since is not None:
                break
            await asyncio.sleep(0.02)
        assert writer.failing_since is not None

        for _ in range(11):  # 55 s: failing, but not yet a minute
            await clock.advance(5)
        assert receiver.requests == []
        for _ in range(4):
            await clock.advance(5)
            await asyncio.sleep(0.05)
        await wait_for(receiver, 1)
        [(headers, body)] = receiver.accepted
        assert len(receiver.requests) == 2  # the refused try, then the one at the next look
        assert body["title"] == "Vigil cannot write its store"
        assert body["event"] == "triggered"
        assert "database or disk is full" in body["reason"]
        assert headers["Idempotency-Key"].startswith(f"vigil-store-{runtime.store.id}-triggered-")

        for _ in range(12):  # another minute of failing: no second notice
            await clock.advance(5)
        await asyncio.sleep(0.1)
        assert len(receiver.accepted) == 1

        disk.full = False
        for _ in range(30):
            await clock.advance(5)
            await asyncio.sleep(0.02)
            if len(receiver.accepted) == 2:
                break
        await wait_for(receiver, 2)
        _, recovered = receiver.accepted[1]
        assert (recovered["title"], recovered["event"]) == ("Vigil writes its store again", "resolved")
        assert len(await runtime.results.recent("api.c0")) == 1
    finally:
        await runtime.stop()
        await engine.dispose()
