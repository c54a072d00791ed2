"""What the probe tests share: the shared servers, a check runner, a closed port and one observation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest

from tests.conftest import free_port
from vigil.config.check import CheckBase
from vigil.engine.runner import CheckRunner, ProbeSet
from vigil.probes.base import Observation, Probe, ProbeKind

C = TypeVar("C", bound=CheckBase)

SHARED = {
    "mysql": "mysql://root@127.0.0.1:3306/test",
    "postgres": "postgresql://postgres@127.0.0.1:5432/test",
    "redis": "redis://127.0.0.1:6379/0",
}
"""The suite's shared server of each database kind (trusting everyone: no password)."""


@pytest.fixture
async def runner() -> AsyncIterator[CheckRunner]:
    probes = ProbeSet()
    yield CheckRunner(probes)
    await probes.aclose()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on, on 127.0.0.1 or ::1: bound to learn a free number, then let go."""
    return free_port()


async def observe(kind: ProbeKind[C], probe: Probe[C] | None = None, **fields: Any) -> Observation:
    """One observation of a ``kind`` check built from ``fields`` the way the stack file builds it,
    looking at the shared server of a database kind unless ``fields`` name another target.

    A ``probe`` passed in is kept open for the next observation; one made here is closed after it.
    """
    if kind.name in SHARED:
        fields.setdefault(kind.name, SHARED[kind.name])
    used = kind.factory() if probe is None else probe
    try:
        return await used.observe(kind.config.model_validate(fields))
    finally:
        if probe is None:
            await used.close()
