"""The sqlite engine: the online backup API, PRAGMA integrity_check, a scratch copy's rows."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from tests.backups.conftest import make_job
from vigil.backups.manifest import manifest_path, read_manifest
from vigil.backups.service import restore_artefact, run_job, verify_artefact
from vigil.config.secrets import Redactor
from vigil.errors import BackupRefused

REDACT = Redactor()


def make_source(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)")
        conn.executemany("INSERT INTO events (what) VALUES (?)", [(f"event {i}",) for i in range(4000)])
        conn.execute('CREATE TABLE "odd name" (x)')
        conn.executemany('INSERT INTO "odd name" VALUES (?)', [(i,) for i in range(1500)])
    return path


@pytest.mark.parametrize("how", ["list", "restore"])
async def test_a_sqlite_backup_is_verified_and_counts_every_table(tmp_path: Path, how: str) -> None:
    job = make_job(tmp_path, str(make_source(tmp_path / "app.db")), engine="sqlite", verify=how)
    outcome = await run_job(job, REDACT)
    assert outcome.ok, outcome.reason
    assert outcome.artefact is not None
    manifest = read_manifest(outcome.artefact)
    assert manifest.tables == {"events": 4000, "odd name": 1500}
    assert manifest.good and manifest.verified is not None and manifest.verified.how == how


async def test_a_damaged_copy_fails_the_integrity_check(tmp_path: Path) -> None:
    job = make_job(tmp_path, str(make_source(tmp_path / "app.db")), engine="sqlite")
    outcome = await run_job(job, REDACT)
    assert outcome.artefact is not None
    data = bytearray(outcome.artefact.read_bytes())
    data[4096 : 4096 + 12] = b"\xff" * 12  # the second page's header: a table's b-tree page
    outcome.artefact.write_bytes(bytes(data))
    manifest = json.loads(manifest_path(outcome.artefact).read_text())
    manifest["checksum"] = hashlib.sha256(bytes(data)).hexdigest()  # the checksum alone would catch it
    manifest_path(outcome.artefact).write_text(json.dumps(manifest))
    checked = await verify_artefact(outcome.artefact, job, REDACT)
    assert not checked.ok and checked.reason is not None
    assert "integrity_check" in checked.reason or "SQLite cannot read" in checked.reason


async def test_a_missing_source_is_a_failed_run(tmp_path: Path) -> None:
    outcome = await run_job(make_job(tmp_path, str(tmp_path / "nope.db"), engine="sqlite"), REDACT)
    assert not outcome.ok
    assert outcome.reason == f"the SQLite database {tmp_path}/nope.db does not exist"
    assert not any((tmp_path / "backups").iterdir())


async def test_a_restore_makes_a_new_file_and_refuses_one_that_exists(tmp_path: Path) -> None:
    job = make_job(tmp_path, str(make_source(tmp_path / "app.db")), engine="sqlite")
    outcome = await run_job(job, REDACT)
    assert outcome.artefact is not None
    restored = await restore_artefact(outcome.artefact, job, str(tmp_path / "restored.db"), REDACT)
    assert restored.ok, restored.reason
    with sqlite3.connect(tmp_path / "restored.db") as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (4000,)
    with pytest.raises(BackupRefused, match="exists already"):
        await restore_artefact(outcome.artefact, job, str(tmp_path / "restored.db"), REDACT)
