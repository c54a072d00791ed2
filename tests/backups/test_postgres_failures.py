"""A source that fails: a wrong password, a server stopped in the middle of a dump. A private
cluster (initdb + pg_ctl on a free port) so the shared server is never stopped."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.backups.conftest import make_job
from tests.probes.scratch_postgres import pg_tool, scratch_cluster
from vigil.backups.service import listing, run_job
from vigil.config.secrets import Redactor

PASSWORD = "s3cret-backup-pw"


def stop_immediately(port: int | None) -> None:
    """Stop the scratch cluster listening on ``port`` as a crash would (``-m immediate``)."""
    for pid_file in Path(tempfile.gettempdir()).glob("vigil-pg-*/data/postmaster.pid"):
        if pid_file.read_text().splitlines()[3].strip() == str(port):
            owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            stop = [*owner, pg_tool("pg_ctl"), "-D", str(pid_file.parent), "-m", "immediate", "stop"]
            subprocess.run(stop, check=True, capture_output=True)
            return
    raise AssertionError(f"no scratch cluster on port {port}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with scratch_cluster(password=PASSWORD) as url:
        port = urlsplit(url).port
        env = {"PGPASSWORD": PASSWORD}
        rows = "INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g"
        for sql in ("CREATE TABLE big (id int, payload text)", rows):
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "vigil", "-d", "postgres", "-qAtc", sql],
                check=True,
                capture_output=True,
                env={**env, "PATH": "/usr/bin:/bin:/usr/local/bin"},
            )
        yield url


async def test_a_wrong_password_is_a_failed_run_that_says_so_and_shows_no_password(
    tmp_path: Path, cluster: str
) -> None:
    wrong = cluster.replace(PASSWORD, "not-the-password")
    redact = Redactor({wrong})
    outcome = await run_job(make_job(tmp_path, wrong), redact)
    assert not outcome.ok and outcome.reason is not None
    assert 'password authentication failed for user "vigil"' in outcome.reason
    assert "not-the-password" not in outcome.reason
    assert listing([make_job(tmp_path, wrong)]) == []


async def test_a_source_that_dies_halfway_leaves_no_artefact(tmp_path: Path, cluster: str) -> None:
    job = make_job(tmp_path, cluster)
    running = asyncio.ensure_future(run_job(job, Redactor({cluster})))
    partial = None
    for _ in range(600):  # until pg_dump has written part of the dump
        await asyncio.sleep(0.05)
        partial = next((p for p in job.destination.glob(".*.partial") if p.stat().st_size > 0), None)
        if partial is not None:
            break
    assert partial is not None, "pg_dump never started writing"
    stop_immediately(urlsplit(cluster).port)
    outcome = await running
    assert not outcome.ok and outcome.reason is not None
    assert list(job.destination.iterdir()) == []
    assert listing([job]) == []
