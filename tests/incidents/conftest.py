from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.notify.conftest import mailbox, receiver  # noqa: F401 (a real receiver and SMTP server)
from vigil.config.load import Stack, parse_stack
from vigil.engine.clock import FakeClock
from vigil.incidents.service import IncidentService

STACK = """
notify:
  channels:
    hook: {webhook: "http://127.0.0.1:9/hook"}
    log: {log: true}
  default: [hook, log]
severities:
  P2: {response: 30m}
services:
  api:
    checks:
      health:
        http: http://127.0.0.1:9/health
        alert: {after: 3, severity: P1}
      quiet:
        http: http://127.0.0.1:9/quiet
        alert: false
      manual:
        http: http://127.0.0.1:9/manual
        alert: {after: 1, severity: P2, auto_resolve: false, notify: [log], group: false}
"""


@pytest.fixture
def stack() -> Stack:
    return parse_stack("vigil.yaml", STACK, {})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def incidents(engine: AsyncEngine, stack: Stack, clock: FakeClock) -> IncidentService:
    return IncidentService(engine, stack.model, clock, dashboard_url="http://vigil.test")
