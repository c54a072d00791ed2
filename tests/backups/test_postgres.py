"""The postgres engine against the local server: real pg_dump and pg_restore, real data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.backups.conftest import ROWS, dropdb, make_job, psql
from vigil.backups.manifest import read_manifest
from vigil.backups.service import listing, restore_artefact, run_job, verify_artefact
from vigil.config.secrets import Redactor
from vigil.errors import BackupRefused

REDACT = Redactor()


async def test_a_backup_verified_by_restoring_it_has_a_manifest_with_every_tables_rows(
    tmp_path: Path, source_db: str
) -> None:
    job = make_job(tmp_path, source_db, verify="restore", rto="10m")
    outcome = await run_job(job, REDACT)
    assert outcome.ok, outcome.reason
    assert outcome.artefact is not None and outcome.artefact.name.endswith(".dump")
    manifest = read_manifest(outcome.artefact)
    assert manifest.tables == ROWS
    assert manifest.size == outcome.artefact.stat().st_size > 0
    assert len(manifest.checksum) == 64
    assert manifest.source_version.startswith("PostgreSQL 1")
    assert manifest.client_version.startswith("pg_dump ")
    assert manifest.good and manifest.verified is not None and manifest.verified.how == "restore"
    # Only the artefact and its manifest: no partial file, no scratch database left behind.
    assert sorted(p.name for p in job.destination.iterdir()) == [
        outcome.artefact.name,
        outcome.artefact.name + ".json",
    ]
    assert "vigil_verify_" not in psql("postgres", "SELECT string_agg(datname, ',') FROM pg_database")
    [row] = listing([job])
    assert {"path", "created_at", "size", "checksum", "verified"} <= set(row)
    assert row["verified"] is True


async def test_flipped_bytes_fail_verification_and_the_backup_is_not_good(
    tmp_path: Path, source_db: str
) -> None:
    job = make_job(tmp_path, source_db, verify="list")
    outcome = await run_job(job, REDACT)
    assert outcome.ok and outcome.artefact is not None
    with outcome.artefact.open("r+b") as stream:
        stream.seek(outcome.artefact.stat().st_size // 2)
        stream.write(b"\xde\xad\xbe\xef")
    checked = await verify_artefact(outcome.artefact, job, REDACT)
    assert not checked.ok
    assert checked.reason is not None and checked.reason.startswith("checksum mismatch")
    assert not read_manifest(outcome.artefact).good


async def test_a_damaged_dump_whose_manifest_agrees_fails_pg_restore_list(
    tmp_path: Path, source_db: str
) -> None:
    job = make_job(tmp_path, source_db, verify="list")
    outcome = await run_job(job, REDACT)
    assert outcome.artefact is not None
    outcome.artefact.write_bytes(b"PGDMP" + b"\x00" * 100)  # a header and nothing readable after it
    data = json.loads((outcome.artefact.parent / (outcome.artefact.name + ".json")).read_text())
    import hashlib

    data["checksum"] = hashlib.sha256(outcome.artefact.read_bytes()).hexdigest()
    (outcome.artefact.parent / (outcome.artefact.name + ".json")).write_text(json.dumps(data))
    checked = await verify_artefact(outcome.artefact, job, REDACT)
    assert not checked.ok and checked.reason is not None and "pg_restore failed" in checked.reason


async def test_a_restore_brings_a_dropped_table_back_in_a_new_database_and_refuses_one_that_exists(
    tmp_path: Path, source_db: str
) -> None:
    job = make_job(tmp_path, source_db, verify="list")
    outcome = await run_job(job, REDACT)
    assert outcome.artefact is not None
    target = f"{source_db}_restored"
    try:
        restored = await restore_artefact(outcome.artefact, job, target, REDACT)
        assert restored.ok, restored.reason
        assert psql(target.rsplit("/", 1)[1], "SELECT count(*) FROM orders").strip() == "7000"
        with pytest.raises(BackupRefused, match="exists already"):
            await restore_artefact(outcome.artefact, job, target, REDACT)
        with pytest.raises(BackupRefused, match="--yes"):
            await restore_artefact(outcome.artefact, job, None, REDACT, in_place=True)
    finally:
        dropdb(target.rsplit("/", 1)[1])


async def test_a_destination_that_cannot_be_written_is_a_failed_run_with_that_reason(
    tmp_path: Path, source_db: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    job = make_job(tmp_path, source_db)
    job = type(job)(job.name, job.config, tmp_path / "a-file" / "backups", source_db)
    outcome = await run_job(job, REDACT)
    assert not outcome.ok
    assert outcome.reason == f"cannot write to the destination {tmp_path}/a-file/backups: Not a directory"


async def test_a_server_newer_than_pg_dump_is_refused_with_that_reason(
    tmp_path: Path, source_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in pg_dump that reports an old version: no older PostgreSQL client is installed here.
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    (shim / "pg_dump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    outcome = await run_job(make_job(tmp_path, source_db), REDACT)
    assert not outcome.ok and outcome.reason is not None
    assert "pg_dump is 9.6: pg_dump cannot dump a newer server" in outcome.reason
    assert not (tmp_path / "backups").exists() or not any((tmp_path / "backups").iterdir())


async def test_an_in_place_restore_takes_a_safety_backup_then_brings_a_dropped_table_back(
    tmp_path: Path,
) -> None:
    name = f"vigil_backup_inplace_{os.getpid()}"
    psql("postgres", f'CREATE DATABASE "{name}"')
    try:
        psql(name, "CREATE TABLE keep (id int); INSERT INTO keep SELECT generate_series(1, 4000)")
        job = make_job(tmp_path, f"postgresql://postgres@127.0.0.1:5432/{name}", verify="list")
        outcome = await run_job(job, REDACT)
        assert outcome.ok and outcome.artefact is not None
        psql(name, "DROP TABLE keep")
        restored = await restore_artefact(outcome.artefact, job, None, REDACT, in_place=True, confirmed=True)
        assert restored.ok, restored.reason
        assert psql(name, "SELECT count(*) FROM keep").strip() == "4000"
        assert len(listing([job])) == 2  # the backup restored, and the safety backup taken before
    finally:
        dropdb(name)
