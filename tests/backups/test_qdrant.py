"""The qdrant engine against a local stand-in that speaks Qdrant's documented HTTP API.

A stand-in, not a real Qdrant: no Debian, PyPI or npm package ships the Qdrant server (see
``tests/probes/test_qdrant.py``). ``tests/probes/standins/qdrant.py`` serves the collection
snapshot API (make, list, download, delete, upload to recover), the exact point count and
collection deletion with the JSON shapes Qdrant documents, and checks the ``api-key`` header.
Its snapshot is a tar of its own making, so what is proven is the engine's side: the download
checked against Qdrant's SHA-256, the snapshot deleted from the server, the scratch collection
and the restores.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.backups.conftest import make_job
from tests.probes.standins import served
from tests.probes.standins.qdrant import Collection, QdrantStandIn
from vigil.backups.manifest import read_manifest
from vigil.backups.service import restore_artefact, run_job, verify_artefact
from vigil.config.secrets import Redactor
from vigil.errors import BackupError, BackupRefused

API_KEY = "qdrant-backup-key-5d1e"


@pytest.fixture
def qdrant() -> QdrantStandIn:
    return QdrantStandIn(
        collections={"faq": Collection(points=40_000), "other": Collection(points=3)}, api_key=API_KEY
    )


@pytest.fixture
async def base(qdrant: QdrantStandIn) -> AsyncIterator[str]:
    async with served(qdrant.app()) as url:
        yield url.replace("http://", f"http://:{API_KEY}@")


async def test_a_snapshot_verified_in_a_scratch_collection_has_every_point_and_is_gone_from_the_server(
    tmp_path: Path, qdrant: QdrantStandIn, base: str
) -> None:
    job = make_job(tmp_path, f"{base}/collections/faq", engine="qdrant", verify="restore")
    outcome = await run_job(job, Redactor({job.source}))
    assert outcome.ok, outcome.reason
    assert outcome.artefact is not None and outcome.artefact.name.endswith(".snapshot")
    assert outcome.size is not None and outcome.size > 40_000 * 16  # the whole snapshot came down
    manifest = read_manifest(outcome.artefact)
    assert manifest.tables == {"points": 40_000}
    assert manifest.source_version == "Qdrant 1.12.4" and manifest.client_version.startswith("aiohttp ")
    assert manifest.good and manifest.verified is not None and manifest.verified.how == "restore"
    assert sorted(qdrant.collections) == ["faq", "other"]  # the scratch collection was deleted
    assert qdrant.collections["faq"].snapshots == {}  # and the server keeps no snapshot
    assert set(qdrant.seen_keys) == {API_KEY}


async def test_a_restore_makes_a_new_collection_and_refuses_one_that_exists(
    tmp_path: Path, qdrant: QdrantStandIn, base: str
) -> None:
    job = make_job(tmp_path, f"{base}/collections/faq", engine="qdrant", verify="list")
    outcome = await run_job(job, Redactor())
    assert outcome.ok and outcome.artefact is not None, outcome.reason
    restored = await restore_artefact(outcome.artefact, job, f"{base}/collections/faq_restored", Redactor())
    assert restored.ok, restored.reason
    assert qdrant.collections["faq_restored"].points == 40_000
    with pytest.raises(BackupRefused, match="the collection other exists already"):
        await restore_artefact(outcome.artefact, job, f"{base}/collections/other", Redactor())
    assert qdrant.collections["other"].points == 3


async def test_an_in_place_restore_puts_back_the_points_after_a_safety_backup(
    tmp_path: Path, qdrant: QdrantStandIn, base: str
) -> None:
    job = make_job(tmp_path, f"{base}/collections/faq", engine="qdrant", verify="list")
    outcome = await run_job(job, Redactor())
    assert outcome.artefact is not None
    qdrant.collections["faq"] = Collection(points=7)
    restored = await restore_artefact(outcome.artefact, job, None, Redactor(), in_place=True, confirmed=True)
    assert restored.ok, restored.reason
    assert qdrant.collections["faq"].points == 40_000
    kept = sorted(read_manifest(p).tables["points"] for p in (tmp_path / "backups").glob("*.snapshot"))
    assert kept == [7, 40_000]


async def test_a_download_that_is_not_the_snapshot_qdrant_made_fails_the_backup(
    tmp_path: Path, qdrant: QdrantStandIn, base: str
) -> None:
    qdrant.torn_downloads = True
    outcome = await run_job(make_job(tmp_path, f"{base}/collections/faq", engine="qdrant"), Redactor())
    assert not outcome.ok and outcome.reason is not None
    assert outcome.reason.startswith("the snapshot downloaded from Qdrant ("), outcome.reason
    assert "is not the one it made" in outcome.reason
    assert not any((tmp_path / "backups").iterdir()) and qdrant.collections["faq"].snapshots == {}


async def test_a_changed_or_cut_snapshot_fails_verification(tmp_path: Path, base: str) -> None:
    job = make_job(tmp_path, f"{base}/collections/faq", engine="qdrant", verify="list")
    outcome = await run_job(job, Redactor())
    assert outcome.artefact is not None
    data = outcome.artefact.read_bytes()
    middle = len(data) // 2
    outcome.artefact.write_bytes(data[:middle] + b"\xde\xad\xbe\xef" + data[middle + 4 :])
    checked = await verify_artefact(outcome.artefact, job, Redactor())
    assert not checked.ok and checked.reason is not None and checked.reason.startswith("checksum mismatch")
    outcome.artefact.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackupError, match="is not a readable Qdrant snapshot: unexpected end of data"):
        await job.engine().check(outcome.artefact)


async def test_a_snapshot_qdrant_cannot_load_fails_the_restoring_verification(
    tmp_path: Path, qdrant: QdrantStandIn, base: str
) -> None:
    job = make_job(tmp_path, f"{base}/collections/faq", engine="qdrant", verify="restore")
    artefact = tmp_path / "not-a-snapshot.snapshot"
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w") as archive:
        archive.addfile(tarfile.TarInfo("README"), io.BytesIO(b""))
    artefact.write_bytes(body.getvalue())
    with pytest.raises(
        BackupError,
        match=r"^Qdrant answered 400 to uploading the snapshot into vigil_verify_\w+: Wrong input",
    ):
        await job.engine().scratch_counts(artefact, job.source)
    assert sorted(qdrant.collections) == ["faq", "other"]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (
            "wrong-key-1234",
            "Qdrant answered 403 to counting the points of faq (check the API key in the URL): ",
        ),
        (None, "Qdrant answered 401 to counting the points of faq (check the API key in the URL): "),
    ],
)
async def test_a_refused_key_is_one_line_without_the_key_and_leaves_nothing(
    tmp_path: Path, base: str, key: str | None, reason: str
) -> None:
    source = base.replace(API_KEY, key) if key else base.replace(f":{API_KEY}@", "")
    outcome = await run_job(make_job(tmp_path, f"{source}/collections/faq", engine="qdrant"), Redactor())
    assert not outcome.ok and outcome.reason is not None and outcome.reason.startswith(reason), outcome.reason
    assert "\n" not in outcome.reason and "wrong-key" not in outcome.reason
    assert not any((tmp_path / "backups").iterdir())


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("http://127.0.0.1:6333/faq", "the Qdrant source is not a collection's URL, e.g. http://"),
        (
            "http://127.0.0.1:6333/collections/nope",
            "Qdrant answered 404 to counting the points of nope: Not found",
        ),
    ],
)
async def test_a_source_that_is_no_collection_says_why(
    tmp_path: Path, base: str, source: str, reason: str
) -> None:
    source = source.replace("http://127.0.0.1:6333", base)
    outcome = await run_job(make_job(tmp_path, source, engine="qdrant"), Redactor())
    assert not outcome.ok and outcome.reason is not None and outcome.reason.startswith(reason), outcome.reason
