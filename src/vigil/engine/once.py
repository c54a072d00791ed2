"""One pass of every check: what ``vigil check`` and CI jobs run.

A check judged from what it receives (a ``heartbeat``) is not run: its verdict comes from the
pings in the store at ``store`` (``engine.stored_beats``), or it is not judged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vigil.config.load import Stack
from vigil.config.stack import CheckSpec
from vigil.engine.clock import Clock, SystemClock
from vigil.engine.runner import CheckRunner, ProbeSet
from vigil.probes.base import Result
from vigil.probes.registry import KINDS

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


async def run_once(
    stack: Stack, *, only: Sequence[str] = (), clock: Clock | None = None, store: str | None = None
) -> list[Result]:
    """Run each check once (with its retries), concurrently within the engine's bound; results
    come back in the stack file's order. ``only`` limits the run to services or ``service.check`` ids."""
    specs = [spec for spec in stack.specs() if _selected(spec, only)]
    clock = clock or SystemClock()
    pushed = [spec for spec in specs if KINDS[spec.kind].pushed]
    verdicts = await _pushed_verdicts(pushed, store, clock, stack) if pushed else {}
    probes = ProbeSet()
    runner = CheckRunner(probes, clock, stack.redactor)
    slots = asyncio.Semaphore(stack.model.engine.concurrency)

    async def bounded(spec: CheckSpec) -> Result:
        if spec.id in verdicts:
            return verdicts[spec.id]
        async with slots:
            return await runner.run(spec)

    try:
        return list(await asyncio.gather(*(bounded(spec) for spec in specs)))
    finally:
        await probes.aclose()


async def _pushed_verdicts(
    specs: list[CheckSpec], store: str | None, clock: Clock, stack: Stack
) -> dict[str, Result]:
    # The store loads only when there is a heartbeat to judge.
    from vigil.engine.stored_beats import stored_verdicts
    from vigil.errors import StoreMissing
    from vigil.store.database import open_database

    engine: AsyncEngine | None = None
    if store is not None:
        try:
            engine = await open_database(store, create=False)
        except StoreMissing:  # no `vigil up` has run with it: no pings to judge
            engine = None
    try:
        return await stored_verdicts(specs, engine, clock, stack.redactor)
    finally:
        if engine is not None:
            await engine.dispose()


def _selected(spec: CheckSpec, only: Sequence[str]) -> bool:
    return not only or spec.id in only or spec.service in only
