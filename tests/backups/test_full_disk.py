"""A backup whose destination's device fills up: one clear reason, no artefact, no partial
file, no manifest, and the source as it was. The device is a real 1 MiB tmpfs mounted for the
test (``small_disk``, root only: mounting is what needs it)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backups.conftest import dropdb, make_job, psql
from tests.probes.standins.mongodb import MongoStandIn
from vigil.backups.jobs import Job
from vigil.backups.service import run_job
from vigil.config.secrets import Redactor


@pytest.fixture(scope="module")
def big_source() -> Iterator[str]:
    """About 2 MiB once pg_dump has compressed it: random hex does not shrink much."""
    name = f"vigil_backup_big_{secrets.token_hex(4)}"
    psql("postgres", f'CREATE DATABASE "{name}"')
    try:
        psql(name, "CREATE TABLE events AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS body "
                   "FROM generate_series(1, 60000) g")  # fmt: skip
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        dropdb(name)


def on_disk(job: Job, disk: Path) -> Job:
    return Job(job.name, job.config, disk / "appdb", job.source)


def assert_failed_cleanly(reason: str | None, destination: Path) -> None:
    assert reason is not None and "\n" not in reason
    assert reason.startswith(f"no space left on the device of the destination {destination} ("), reason
    assert reason.endswith(" once the partial backup was removed); nothing was kept"), reason
    assert list(destination.iterdir()) == []  # no artefact, no .partial, no manifest


async def test_a_postgres_backup_larger_than_its_destination_fails_saying_so_and_leaves_nothing(
    tmp_path: Path, small_disk: Path, big_source: str
) -> None:
    job = on_disk(make_job(tmp_path, big_source), small_disk)
    outcome = await run_job(job, Redactor())
    assert not outcome.ok and outcome.artefact is None
    assert_failed_cleanly(outcome.reason, job.destination)
    assert psql(big_source.rsplit("/", 1)[1], "SELECT count(*) FROM events").strip() == "60000"
    # The same job into a folder with room succeeds: the failure was the disk's.
    roomy = await run_job(make_job(tmp_path, big_source), Redactor(), verify=False)
    assert roomy.ok and roomy.size is not None and roomy.size > 1024 * 1024, roomy.reason


async def test_an_engine_writing_in_process_fails_the_same_way(tmp_path: Path, small_disk: Path) -> None:
    documents = [{"_id": i, "body": secrets.token_hex(64)} for i in range(12_000)]  # ~2 MiB of BSON
    server = MongoStandIn(databases={"app": {"events": documents}})
    await server.start()
    try:
        job = make_job(tmp_path, f"mongodb://127.0.0.1:{server.port}/app", engine="mongodb")
        outcome = await run_job(on_disk(job, small_disk), Redactor())
    finally:
        await server.stop()
    assert not outcome.ok
    assert_failed_cleanly(outcome.reason, small_disk / "appdb")
    assert len(server.databases["app"]["events"]) == 12_000 and list(server.databases) == ["app"]
