"""Silences and maintenance windows seen from outside: ``vigil up`` opens the incident, shows it,
and pages no one while a silence matches; the next outage, unsilenced, pages."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx

from tests.server.conftest import VIGIL, Switch, wait_until
from tests.server.test_up import stack


def token(db: str) -> str:
    out = subprocess.run(
        [VIGIL, "token", "create", "--role", "responder", "--name", "oncall", "--db", db, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(out.stdout)["token"])


def test_a_silenced_outage_is_visible_but_pages_no_one(
    target: Switch, receiver: Switch, vigil_up: Any
) -> None:
    vigil = vigil_up(stack(target, receiver))
    vigil.start()
    headers = {"Authorization": f"Bearer {token(vigil.db)}"}
    created = httpx.post(
        f"{vigil.url}/api/v1/silences",
        json={"matchers": ["service=api"], "duration": "1h", "comment": "planned restart"},
        headers=headers,
        timeout=5,
    )
    assert created.status_code == 201, created.text
    silence = created.json()["id"]

    target.healthy = False
    wait_until(lambda: vigil.api("/incidents"), 10, "an incident")
    [incident] = vigil.api("/incidents")
    timeline = vigil.api(f"/incidents/{incident['id']}")["timeline"]
    assert any(e["text"].startswith(f"not paged: silenced by #{silence} (planned restart") for e in timeline)
    target.healthy = True
    wait_until(lambda: vigil.api("/incidents")[0]["status"] == "resolved", 10, "recovery")
    assert receiver.events() == []

    assert (
        httpx.delete(f"{vigil.url}/api/v1/silences/{silence}", headers=headers, timeout=5).status_code == 200
    )
    target.healthy = False
    wait_until(receiver.events, 10, "a page once the silence has expired")
    assert [event for event, _ in receiver.events()] == ["triggered"]
