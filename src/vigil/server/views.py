"""Read models shared by the API and the dashboard: services and checks as they stand now.

A check's target may hold a secret (``?apikey=${API_KEY}``): it is shown through the stack
file's redactor. The server masks every answer with the same redactor again on its way out
(``redacting.py``), so a caller that passes none still shows no secret.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from vigil.config.secrets import redact_url
from vigil.engine.board import CheckStatus, StatusBoard
from vigil.server.runtime import Runtime


def check_view(
    status: CheckStatus, now: datetime, redact: Callable[[str], str] = redact_url
) -> dict[str, Any]:
    last = status.last
    uptime = status.uptime(now)
    return {
        "id": status.spec.id,
        "service": status.spec.service,
        "check": status.spec.name,
        "kind": status.spec.kind,
        "target": redact(status.spec.config.target) if status.spec.kind != "command" else None,
        "every_s": status.spec.config.every,
        "status": status.state,
        "ok": last.ok if last else None,
        "reason": last.reason if last else None,
        "duration_ms": round(last.duration_ms, 2) if last else None,
        "last_run_at": last.started_at.isoformat() if last else None,
        "uptime_24h": round(uptime * 100, 3) if uptime is not None else None,
        "latencies_ms": [round(v, 2) for v in status.latencies],
    }


def services_view(runtime: Runtime) -> list[dict[str, Any]]:
    board: StatusBoard = runtime.board
    now = runtime.clock.now()
    redact = runtime.stack.redactor
    out = []
    for name, service in runtime.stack.model.services.items():
        out.append(
            {
                "name": name,
                "description": service.description,
                "status": board.service_state(name),
                "depends_on": list(service.depends_on),
                "checks": [check_view(s, now, redact) for s in board.services.get(name, [])],
            }
        )
    return out
