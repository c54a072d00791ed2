"""The redis engine against a private redis-server on a free port holding real keys (the shared
one is never written): real redis-cli --rdb, redis-check-rdb, and a second private server
started on the snapshot."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.backups.conftest import flipped_verdicts, make_job
from vigil.backups.manifest import read_manifest
from vigil.backups.service import restore_artefact, run_job
from vigil.config.secrets import Redactor
from vigil.errors import BackupRefused

REDACT = Redactor()
PASSWORD = "vigil-test-pw"
KEYS = {"db0": 5000, "db2": 300}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis-source")
    # A replica sync (what redis-cli --rdb is) waits 5 s by default for more replicas to join.
    args = [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder),
        "--save",
        "",
        "--repl-diskless-sync-delay",
        "0",
    ]
    server = subprocess.Popen(["redis-server", *args, "--requirepass", PASSWORD], stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port, password=PASSWORD)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.mset({f"user:{i}": f"name {i}" for i in range(4000)})
        for i in range(1000):
            client.hset(f"cart:{i}", mapping={"item": "x", "n": i})
        client.select(2)
        client.mset({f"session:{i}": "s" for i in range(300)})
        yield f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


async def test_a_snapshot_verified_by_loading_it_has_every_databases_keys(
    tmp_path: Path, source: str
) -> None:
    job = make_job(tmp_path, source, engine="redis", verify="restore")
    outcome = await run_job(job, REDACT)
    assert outcome.ok, outcome.reason
    assert outcome.artefact is not None and outcome.artefact.name.endswith(".rdb")
    manifest = read_manifest(outcome.artefact)
    assert manifest.tables == KEYS
    assert manifest.source_version.startswith("Redis 7") and manifest.client_version.startswith("redis-cli ")
    assert manifest.good and manifest.verified is not None and manifest.verified.how == "restore"


async def test_flipped_bytes_fail_redis_check_rdb_even_with_a_manifest_that_agrees(
    tmp_path: Path, source: str
) -> None:
    checksum, engines = await flipped_verdicts(make_job(tmp_path, source, engine="redis", verify="list"))
    assert checksum.startswith("checksum mismatch")
    assert engines.startswith("redis-check-rdb failed (exit 1): ")


async def test_a_wrong_password_fails_with_one_clear_reason_and_no_secret(
    tmp_path: Path, source: str
) -> None:
    wrong = source.replace(PASSWORD, "s3cret-wrong")
    outcome = await run_job(make_job(tmp_path, wrong, engine="redis"), REDACT)
    assert not outcome.ok and outcome.reason is not None
    assert outcome.reason.startswith("cannot connect to Redis at 127.0.0.1:")
    assert "invalid" in outcome.reason.lower() and "WRONGPASS" not in outcome.reason[:30]
    assert "\n" not in outcome.reason and "s3cret-wrong" not in outcome.reason
    assert not any((tmp_path / "backups").iterdir())


async def test_a_restore_writes_a_new_rdb_file_and_refuses_one_that_exists_or_in_place(
    tmp_path: Path, source: str
) -> None:
    job = make_job(tmp_path, source, engine="redis", verify="list")
    outcome = await run_job(job, REDACT)
    assert outcome.artefact is not None
    target = tmp_path / "restored.rdb"
    restored = await restore_artefact(outcome.artefact, job, str(target), REDACT)
    assert restored.ok, restored.reason
    assert target.read_bytes() == outcome.artefact.read_bytes()
    with pytest.raises(BackupRefused, match="exists already"):
        await restore_artefact(outcome.artefact, job, str(target), REDACT)
    with pytest.raises(BackupRefused, match="cannot load a snapshot while it runs"):
        await restore_artefact(outcome.artefact, job, None, REDACT, in_place=True, confirmed=True)
