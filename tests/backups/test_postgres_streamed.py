"""A PostgreSQL backup verified by restoring it right after (``verify: restore``, no rto) is
restored while pg_dump writes it: the same bytes go to the artefact, its checksum and a scratch
database. Real pg_dump and pg_restore, on a private cluster with a password, so that the only
scratch databases on it are this module's."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.backups.conftest import ROWS, SEED, make_job
from tests.probes.scratch_postgres import scratch_cluster
from vigil.backups.manifest import read_manifest
from vigil.backups.service import restore_artefact, run_job, verify_artefact
from vigil.config.backups import VerifyHow
from vigil.config.secrets import Redactor

PASSWORD = "s3cret-stream-pw"
# A CHECK that reads another table without naming its schema: pg_dump writes it faithfully, and
# pg_restore (which empties the search_path) fails on the first row it loads.
UNRESTORABLE = """
CREATE TABLE small (id int);
INSERT INTO small SELECT generate_series(1, 10);
CREATE FUNCTION under_limit(x int) RETURNS boolean LANGUAGE sql
  AS 'SELECT x > (SELECT count(*) FROM small)';
CREATE TABLE guarded (x int CHECK (under_limit(x)));
INSERT INTO guarded SELECT generate_series(100, 2100);
"""


def sql(server: str, database: str, text: str) -> str:
    port = str(urlsplit(server).port)
    done = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            port,
            "-U",
            "vigil",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
        ],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PGPASSWORD": PASSWORD},
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with scratch_cluster(password=PASSWORD) as url:
        for name, seed in (("app", SEED), ("unrestorable", UNRESTORABLE)):
            sql(url, "postgres", f"CREATE DATABASE {name}")
            sql(url, name, seed)
        yield url


def database(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + f"/{name}"


def databases(server: str) -> str:
    return sql(server, "postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")


async def test_a_backup_restored_while_dumped_is_verified_from_the_bytes_written(
    tmp_path: Path, server: str
) -> None:
    job = make_job(tmp_path, database(server, "app"), verify="restore")
    outcome = await run_job(job, Redactor({server}))
    assert outcome.ok, outcome.reason
    assert outcome.artefact is not None
    manifest = read_manifest(outcome.artefact)
    assert manifest.tables == ROWS
    assert manifest.checksum == hashlib.sha256(outcome.artefact.read_bytes()).hexdigest()
    assert manifest.size == outcome.artefact.stat().st_size
    assert manifest.verified is not None and manifest.verified.ok and manifest.verified.how == "restore"
    # The verifying restore began with the dump, not after it.
    assert manifest.verified.at == manifest.created_at
    assert sorted(p.name for p in job.destination.iterdir()) == [
        outcome.artefact.name,
        outcome.artefact.name + ".json",
    ]
    assert databases(server) == "app,postgres,template0,template1,unrestorable"


async def test_an_artefact_written_from_the_stream_verifies_and_restores_in_parallel_later(
    tmp_path: Path, server: str
) -> None:
    job = make_job(tmp_path, database(server, "app"), verify="restore")
    outcome = await run_job(job, Redactor({server}))
    assert outcome.ok and outcome.artefact is not None, outcome.reason
    checked = await verify_artefact(outcome.artefact, job, Redactor({server}))  # pg_restore --jobs
    assert checked.ok, checked.reason
    restored = await restore_artefact(outcome.artefact, job, database(server, "again"), Redactor({server}))
    assert restored.ok, restored.reason
    assert sql(server, "again", 'SELECT count(*) FROM sales."Line items"') == "2500"
    sql(server, "postgres", "DROP DATABASE again")


@pytest.mark.parametrize("rto", [None, "10m"], ids=["restored-while-dumped", "restored-after"])
async def test_a_dump_that_does_not_restore_is_kept_whole_and_not_good(
    tmp_path: Path, server: str, rto: str | None
) -> None:
    fields = {"rto": rto} if rto else {}
    job = make_job(tmp_path, database(server, "unrestorable"), verify="restore", **fields)
    outcome = await run_job(job, Redactor({server}))
    assert not outcome.ok and outcome.reason is not None
    assert "pg_restore failed (exit 1)" in outcome.reason
    assert 'relation "small" does not exist' in outcome.reason
    assert PASSWORD not in outcome.reason
    assert outcome.artefact is not None
    manifest = read_manifest(outcome.artefact)
    assert not manifest.good and manifest.tables == {"public.guarded": 2001, "public.small": 10}
    # The restore stopped at the first row; the artefact was written to its end all the same.
    assert manifest.checksum == hashlib.sha256(outcome.artefact.read_bytes()).hexdigest()
    assert (await verify_artefact(outcome.artefact, job, Redactor({server}), how=VerifyHow.LIST)).ok
    assert databases(server) == "app,postgres,template0,template1,unrestorable"


async def test_a_streamed_backup_past_its_timeout_leaves_no_artefact_no_scratch_and_no_tool(
    tmp_path: Path, server: str
) -> None:
    import asyncpg

    # A lock that pg_dump waits for: the dump and the restore it feeds are both under way, stalled.
    holder = await asyncpg.connect(database(server, "app"))
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
            job = make_job(tmp_path, database(server, "app"), verify="restore", timeout="2s")
            outcome = await run_job(job, Redactor({server}))
    finally:
        await holder.close()
    assert not outcome.ok and outcome.reason == "the backup took longer than its timeout of 2s"
    assert list(job.destination.iterdir()) == []
    assert databases(server) == "app,postgres,template0,template1,unrestorable"
    assert children_named("pg_dump", "pg_restore") == []


def children_named(*names: str) -> list[str]:
    """This process's children with one of ``names``, as /proc shows them."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue  # gone meanwhile
        name, parent = fields[0].split("(", 1)[1], int(fields[1].split()[1])
        if parent == os.getpid() and name in names:
            found.append(name)
    return found
