"""The mongodb engine against a local stand-in that speaks MongoDB's wire protocol.

A stand-in, not a real MongoDB, and not ``mongodump``: no Debian, PyPI or npm package ships a
MongoDB server or its database tools (see ``tests/probes/test_mongodb.py``). The engine runs
through the real driver (pymongo) against ``tests/probes/standins/mongodb.py``, which serves
``find`` with its cursor batches, ``listIndexes``, ``insert``, ``create``, ``createIndexes`` and
``dropDatabase`` as MongoDB documents them. What is proven here is the engine's side: the
archive, its verification, the scratch database and the restores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from bson import Decimal128, ObjectId

from tests.backups.conftest import flipped_verdicts, make_job
from tests.probes.standins.mongodb import MongoStandIn
from vigil.backups.jobs import Job
from vigil.backups.manifest import read_manifest
from vigil.backups.service import restore_artefact, run_job, verify_artefact
from vigil.config.secrets import Redactor
from vigil.errors import BackupError, BackupRefused

REDACT = Redactor()
INDEX = {"v": 2, "key": {"email": 1}, "name": "email_1", "unique": True}


def seeded() -> MongoStandIn:
    users = [
        {"_id": ObjectId(), "email": f"u{i}@example.org", "joined": datetime(2024, 1, 1 + i % 28), "n": i}
        for i in range(2500)  # past the first batch: the cursor is followed with getMore
    ]
    orders = [
        {"_id": i, "total": Decimal128(f"{i}.50"), "lines": [{"sku": "a", "qty": i}]} for i in range(300)
    ]
    server = MongoStandIn(databases={"app": {"users": users, "orders": orders, "empty": []}})
    server.indexes[("app", "users")] = [INDEX]
    server.options[("app", "orders")] = {"validator": {"total": {"$exists": True}}}
    return server


@pytest.fixture
async def mongo() -> AsyncIterator[MongoStandIn]:
    server = seeded()
    await server.start()
    yield server
    await server.stop()


def url(mongo: MongoStandIn, database: str = "app") -> str:
    return f"mongodb://127.0.0.1:{mongo.port}/{database}"


async def backed_up(tmp_path: Path, mongo: MongoStandIn) -> tuple[Job, Path]:
    """A job over the stand-in's ``app`` verified by listing, and the artefact of one run."""
    job = make_job(tmp_path, url(mongo), engine="mongodb", verify="list")
    outcome = await run_job(job, REDACT)
    assert outcome.ok and outcome.artefact is not None, outcome.reason
    return job, outcome.artefact


async def test_an_archive_verified_in_a_scratch_database_has_every_collections_documents(
    tmp_path: Path, mongo: MongoStandIn
) -> None:
    job = make_job(tmp_path, url(mongo), engine="mongodb", verify="restore")
    outcome = await run_job(job, REDACT)
    assert outcome.ok, outcome.reason
    assert outcome.artefact is not None and outcome.artefact.name.endswith(".archive")
    manifest = read_manifest(outcome.artefact)
    assert manifest.tables == {"empty": 0, "orders": 300, "users": 2500}
    assert (manifest.source_version, manifest.client_version[:7]) == ("MongoDB 7.0.14", "pymongo")
    assert manifest.good and manifest.verified is not None and manifest.verified.how == "restore"
    assert list(mongo.databases) == ["app"]  # the scratch database was dropped
    assert "getMore" in mongo.commands and not mongo.cursors


async def test_a_restore_into_a_new_database_brings_back_documents_indexes_and_options(
    tmp_path: Path, mongo: MongoStandIn
) -> None:
    job, artefact = await backed_up(tmp_path, mongo)
    restored = await restore_artefact(artefact, job, url(mongo, "copy"), REDACT)
    assert restored.ok, restored.reason
    assert mongo.databases["copy"] == mongo.databases["app"]  # every value and type as it was
    assert mongo.indexes[("copy", "users")] == [INDEX]
    assert mongo.options[("copy", "orders")] == {"validator": {"total": {"$exists": True}}}
    with pytest.raises(BackupRefused, match="the database copy exists already"):
        await restore_artefact(artefact, job, url(mongo, "copy"), REDACT)


async def test_an_in_place_restore_puts_back_what_was_deleted_after_a_safety_backup(
    tmp_path: Path, mongo: MongoStandIn
) -> None:
    job, artefact = await backed_up(tmp_path, mongo)
    del mongo.databases["app"]["users"][100:]
    restored = await restore_artefact(artefact, job, None, REDACT, in_place=True, confirmed=True)
    assert restored.ok, restored.reason
    assert len(mongo.databases["app"]["users"]) == 2500
    kept = sorted(read_manifest(p).tables["users"] for p in (tmp_path / "backups").glob("*.archive"))
    assert kept == [100, 2500]  # the backup, and the safety backup taken before restoring


async def test_flipped_bytes_are_found_by_the_checksum_and_by_the_archives_own_digest(
    tmp_path: Path, mongo: MongoStandIn
) -> None:
    checksum, engines = await flipped_verdicts(
        make_job(tmp_path, url(mongo), engine="mongodb", verify="list")
    )
    assert checksum.startswith("checksum mismatch")
    assert "changed since written" in engines or "damaged" in engines, engines


async def test_a_truncated_archive_fails_its_verification_by_name(
    tmp_path: Path, mongo: MongoStandIn
) -> None:
    job, artefact = await backed_up(tmp_path, mongo)
    data = artefact.read_bytes()
    artefact.write_bytes(data[: len(data) // 3])
    with pytest.raises(BackupError, match="truncated"):
        await job.engine().check(artefact)
    checked = await verify_artefact(artefact, job, REDACT)
    assert not checked.ok and checked.reason is not None and checked.reason.startswith("checksum mismatch")


async def test_a_refused_login_is_one_line_without_the_password_and_leaves_nothing(
    tmp_path: Path, mongo: MongoStandIn
) -> None:
    mongo.requires_auth = True
    source = f"mongodb://backup:s3cret-mongo-pw@127.0.0.1:{mongo.port}/app"
    outcome = await run_job(make_job(tmp_path, source, engine="mongodb"), Redactor({source}))
    assert not outcome.ok and outcome.reason is not None
    assert outcome.reason == "MongoDB at 127.0.0.1 refused the login: check the user and password in the URL"
    assert not any((tmp_path / "backups").iterdir())


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("mongodb://127.0.0.1:1", "the MongoDB source URL names no database: add it as its path"),
        ("postgresql://127.0.0.1/app", "the MongoDB source is not a mongodb:// URL"),
        ("mongodb://127.0.0.1:notaport/app", "unusable MongoDB URL: Port contains non-digit characters."),
    ],
)
async def test_a_source_that_cannot_be_used_says_why(tmp_path: Path, source: str, reason: str) -> None:
    outcome = await run_job(make_job(tmp_path, source, engine="mongodb"), REDACT)
    assert not outcome.ok and outcome.reason is not None and outcome.reason.startswith(reason), outcome.reason
    assert not any((tmp_path / "backups").iterdir())


async def test_a_server_that_does_not_answer_is_named_with_the_cause(tmp_path: Path) -> None:
    # The URL's own option shortens the driver's wait for a server, as a user's URL may.
    url = "mongodb://127.0.0.1:1/app?serverSelectionTimeoutMS=500"
    outcome = await run_job(make_job(tmp_path, url, engine="mongodb"), REDACT)
    assert outcome.reason is not None
    assert outcome.reason.startswith("cannot connect to MongoDB at 127.0.0.1: [Errno 111] "), outcome.reason
    assert not any((tmp_path / "backups").iterdir())
