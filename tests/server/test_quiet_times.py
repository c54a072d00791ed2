"""Silence times given over HTTP with an offset other than UTC end at the instant they name."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.server.conftest import served
from vigil.server.tokens import Role, create_token

STACK = """
server: {public_read: true}  # reading is not what this file tests (test_private.py is)
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health"}
"""


async def test_a_silence_posted_with_an_offset_ends_at_that_instant(tmp_path: Path) -> None:
    async with served(tmp_path, STACK) as (client, runtime, clock):
        token = await create_token(runtime.engine, clock, "ana", Role.RESPONDER)
        body = {
            "matchers": ["service=api"],
            "ends_at": "2026-01-01T04:00:00+02:00",  # 02:00 UTC; the fake clock starts at 00:00 UTC
            "comment": "deploy",
        }
        headers = {"Authorization": f"Bearer {token}"}
        made = (await client.post("/api/v1/silences", json=body, headers=headers)).json()
        assert made["ends_at"] == "2026-01-01T02:00:00+00:00"
        read = (await client.get(f"/api/v1/silences/{made['id']}")).json()
        assert (read["state"], read["ends_at"]) == ("active", "2026-01-01T02:00:00+00:00")

        await clock.advance(2.5 * 3600)
        assert clock.now() == datetime(2026, 1, 1, 2, 30, tzinfo=UTC)
        assert (await client.get("/api/v1/silences")).json() == []
        read = (await client.get(f"/api/v1/silences/{made['id']}")).json()
        assert read["state"] == "expired"
