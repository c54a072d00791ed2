"""One pass of every check: what ``vigil check`` and CI jobs run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from vigil.config.load import Stack
from vigil.config.stack import CheckSpec
from vigil.engine.clock import Clock
from vigil.engine.runner import CheckRunner, ProbeSet
from vigil.probes.base import Result


async def run_once(stack: Stack, *, only: Sequence[str] = (), clock: Clock | None = None) -> list[Result]:
    """Run each check once (with its retries), concurrently within the engine's bound; results
    come back in the stack file's order. ``only`` limits the run to services or ``service.check`` ids."""
    specs = [spec for spec in stack.specs() if _selected(spec, only)]
    probes = ProbeSet()
    runner = CheckRunner(probes, clock, stack.redactor)
    slots = asyncio.Semaphore(stack.model.engine.concurrency)

    async def bounded(spec: CheckSpec) -> Result:
        async with slots:
            return await runner.run(spec)

    try:
        return list(await asyncio.gather(*(bounded(spec) for spec in specs)))
    finally:
        await probes.aclose()


def _selected(spec: CheckSpec, only: Sequence[str]) -> bool:
    return not only or spec.id in only or spec.service in only
