"""Backups over HTTP on a real store: a responder runs a job, an admin restores, a failed backup
opens an incident like a failing check, and an artefact outside the job's folder is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.server.conftest import served
from vigil.server.tokens import Role, create_token

STACK = """
server: {{public_read: true}}
backups:
  appdb:
    engine: sqlite
    source: {source}
    schedule: "0 2 * * *"
    destination: {folder}
    keep: {{count: 3}}
    verify: restore
    rpo: 1h
"""


def stack(tmp_path: Path, source: Path) -> str:
    return STACK.format(source=source, folder=tmp_path / "backups")


async def test_a_responder_backs_up_an_admin_restores_and_a_reader_cannot(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(3000)])
    async with served(tmp_path, stack(tmp_path, tmp_path / "app.db")) as (client, runtime, clock):
        tokens = {role: await create_token(runtime.engine, clock, f"{role}-user", role) for role in Role}

        def auth(role: Role) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[role]}"}

        assert (await client.post("/api/v1/backups/appdb/run")).status_code == 401
        ran = await client.post("/api/v1/backups/appdb/run", headers=auth(Role.RESPONDER))
        assert ran.status_code == 200 and ran.json()["ok"] is True, ran.text
        listed = (await client.get("/api/v1/backups/appdb")).json()
        [backup] = listed["backups"]
        assert backup["verified"] is True and backup["verified_how"] == "restore"
        assert sorted(r["action"] for r in listed["runs"]) == ["backup", "verify"]
        body = {"artefact": backup["path"], "to": str(tmp_path / "restored.db")}
        assert (
            await client.post("/api/v1/backups/restore", json=body, headers=auth(Role.RESPONDER))
        ).status_code == 403
        restored = await client.post("/api/v1/backups/restore", json=body, headers=auth(Role.ADMIN))
        assert restored.status_code == 200 and restored.json()["ok"] is True, restored.text
        again = await client.post("/api/v1/backups/restore", json=body, headers=auth(Role.ADMIN))
        assert again.status_code == 422 and "exists already" in again.json()["error"]
        outside = {"artefact": str(tmp_path / "app.db")}
        refused = await client.post("/api/v1/backups/verify", json=outside, headers=auth(Role.RESPONDER))
        assert refused.status_code == 422 and "not in a backup job's destination" in refused.json()["error"]
        nul = await client.post(
            "/api/v1/backups/verify", json={"artefact": "/a\u0000b"}, headers=auth(Role.RESPONDER)
        )
        assert nul.status_code == 422 and "not in a backup job's destination" in nul.json()["error"]
        unknown = await client.get("/api/v1/backups/nope")
        assert unknown.status_code == 422 and "no backup job 'nope'" in unknown.json()["error"]


async def test_a_failed_backup_is_a_failing_check_that_opens_an_incident(tmp_path: Path) -> None:
    async with served(tmp_path, stack(tmp_path, tmp_path / "missing.db")) as (client, runtime, clock):
        token = await create_token(runtime.engine, clock, "r", Role.RESPONDER)
        ran = await client.post("/api/v1/backups/appdb/run", headers={"Authorization": f"Bearer {token}"})
        assert ran.json()["ok"] is False
        assert ran.json()["reason"] == f"the SQLite database {tmp_path}/missing.db does not exist"
        incidents = (await client.get("/api/v1/incidents")).json()
        shown = str(incidents)
        assert "backups" in shown and "the last backup failed" in shown, shown
