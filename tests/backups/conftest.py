"""A source database on the shared PostgreSQL with real data (three tables, thousands of rows),
made for this module and dropped after; and jobs over it writing into the test's folder."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.backups.jobs import Job
from vigil.backups.manifest import manifest_path, read_manifest
from vigil.backups.service import run_job, verify_artefact
from vigil.config.backups import BackupJob
from vigil.config.secrets import Redactor

PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]
ROWS = {"public.customers": 3000, "public.orders": 7000, 'sales."Line items"': 2500}
SEED = """
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 3000) g;
CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, total numeric);
INSERT INTO orders SELECT g, 1 + g % 3000, g * 1.5 FROM generate_series(1, 7000) g;
CREATE SCHEMA sales;
CREATE TABLE sales."Line items" (id bigserial PRIMARY KEY, note text);
INSERT INTO sales."Line items" (note) SELECT md5(g::text) FROM generate_series(1, 2500) g;
"""


def psql(database: str, sql: str) -> str:
    done = subprocess.run([*PSQL, "-d", database, "-c", sql], capture_output=True, text=True, check=True)
    return done.stdout


def dropdb(name: str) -> None:
    subprocess.run(
        [*PSQL, "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False
    )


@pytest.fixture(scope="module")
def source_db() -> Iterator[str]:
    name = f"vigil_backup_src_{secrets.token_hex(4)}"
    psql("postgres", f'CREATE DATABASE "{name}"')
    try:
        psql(name, SEED)
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        dropdb(name)


def make_job(tmp_path: Path, source: str, engine: str = "postgres", **fields: Any) -> Job:
    config = BackupJob.model_validate(
        {
            "engine": engine,
            "source": source,
            "schedule": "0 2 * * *",
            "destination": str(tmp_path / "backups"),
            "keep": {"count": 7},
            **fields,
        }
    )
    return Job("appdb", config, tmp_path / "backups", source)


async def flipped_verdicts(job: Job) -> tuple[str, str]:
    """Back ``job`` up, flip four bytes in the middle of the artefact and verify it twice: the
    reasons given with the manifest as written, then with its checksum made to agree (so the
    engine's own check is what catches it). The artefact ends up not good."""
    outcome = await run_job(job, Redactor())
    assert outcome.ok and outcome.artefact is not None, outcome.reason
    artefact = outcome.artefact
    data = bytearray(artefact.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4] = b"\xde\xad\xbe\xef"
    artefact.write_bytes(bytes(data))
    reasons = []
    for _ in range(2):
        checked = await verify_artefact(artefact, job, Redactor())
        assert not checked.ok and checked.reason is not None
        reasons.append(checked.reason)
        manifest = json.loads(manifest_path(artefact).read_text())
        manifest["checksum"] = hashlib.sha256(bytes(data)).hexdigest()
        manifest_path(artefact).write_text(json.dumps(manifest))
    assert not read_manifest(artefact).good
    return reasons[0], reasons[1]
