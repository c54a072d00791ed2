"""The mariadb engine against the local MariaDB: real mariadb-dump and mariadb, real data,
in a database made for this module and dropped after."""

from __future__ import annotations

import gzip
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backups.conftest import flipped_verdicts, make_job
from vigil.backups.manifest import read_manifest
from vigil.backups.service import restore_artefact, run_job, verify_artefact
from vigil.config.secrets import Redactor
from vigil.errors import BackupRefused

REDACT = Redactor()
SERVER = "mysql://root@127.0.0.1:3306"
ROWS = {"customers": 3000, "odd `name`": 1200, "orders": 7000}
SEED = """
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('customer ', seq) FROM seq_1_to_3000;
CREATE TABLE orders (id INT PRIMARY KEY, customer INT, total DECIMAL(10,2)) ENGINE=InnoDB;
INSERT INTO orders SELECT seq, 1 + seq % 3000, seq * 1.5 FROM seq_1_to_7000;
CREATE TABLE `odd ``name``` (note TEXT) ENGINE=InnoDB;
INSERT INTO `odd ``name``` SELECT MD5(seq) FROM seq_1_to_1200;
"""


def sql(statements: str, database: str = "") -> str:
    args = ["mariadb", "-h", "127.0.0.1", "-u", "root", "--batch", "--skip-column-names"]
    done = subprocess.run(
        [*args, *([database] if database else [])],
        input=statements,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def drop(name: str) -> None:
    sql(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="module")
def source() -> Iterator[str]:
    name = f"vigil_backup_src_{secrets.token_hex(4)}"
    sql(f"CREATE DATABASE `{name}`")
    try:
        sql(SEED, name)
        yield f"{SERVER}/{name}"
    finally:
        drop(name)


async def test_a_backup_verified_by_restoring_it_counts_every_table_and_leaves_no_scratch(
    tmp_path: Path, source: str
) -> None:
    job = make_job(tmp_path, source, engine="mariadb", verify="restore")
    outcome = await run_job(job, REDACT)
    assert outcome.ok, outcome.reason
    assert outcome.artefact is not None and outcome.artefact.name.endswith(".sql.gz")
    manifest = read_manifest(outcome.artefact)
    assert manifest.tables == ROWS
    assert manifest.source_version.startswith("MariaDB 1")
    assert manifest.client_version.startswith("mariadb-dump 1")
    assert manifest.good and manifest.verified is not None and manifest.verified.how == "restore"
    assert "vigil_verify_" not in sql("SHOW DATABASES")


async def test_flipped_bytes_fail_verification_even_with_a_manifest_that_agrees(
    tmp_path: Path, source: str
) -> None:
    checksum, engines = await flipped_verdicts(make_job(tmp_path, source, engine="mariadb", verify="list"))
    assert checksum.startswith("checksum mismatch")
    assert "the MariaDB dump cannot be read" in engines


async def test_a_dump_cut_short_is_incomplete(tmp_path: Path, source: str) -> None:
    job = make_job(tmp_path, source, engine="mariadb", verify="list")
    outcome = await run_job(job, REDACT)
    assert outcome.artefact is not None
    whole = gzip.decompress(outcome.artefact.read_bytes())
    outcome.artefact.write_bytes(gzip.compress(whole[: len(whole) // 2]))
    assert not (await verify_artefact(outcome.artefact, job, REDACT, how=None)).ok
    from vigil.backups.mariadb import MariadbEngine

    with pytest.raises(Exception, match="its last line is not '-- Dump completed'"):
        await MariadbEngine().check(outcome.artefact)


async def test_a_wrong_password_fails_with_one_clear_reason_and_no_secret(
    tmp_path: Path, source: str
) -> None:
    user = f"vigil_{secrets.token_hex(3)}"
    sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pw'; GRANT ALL ON *.* TO '{user}'@'%'")
    try:
        wrong = source.replace("root@", f"{user}:s3cret-wrong@")
        outcome = await run_job(make_job(tmp_path, wrong, engine="mariadb"), REDACT)
        assert not outcome.ok and outcome.reason is not None
        assert outcome.reason.startswith(
            "cannot connect to MariaDB at 127.0.0.1:3306: Access denied for user"
        )
        assert "\n" not in outcome.reason and "s3cret-wrong" not in outcome.reason
        assert not any((tmp_path / "backups").iterdir())
    finally:
        sql(f"DROP USER IF EXISTS '{user}'@'%'")


async def test_a_restore_brings_the_data_back_in_a_new_database_and_refuses_one_that_exists(
    tmp_path: Path, source: str
) -> None:
    job = make_job(tmp_path, source, engine="mariadb", verify="list")
    outcome = await run_job(job, REDACT)
    assert outcome.artefact is not None
    name = f"{source.rsplit('/', 1)[1]}_restored"
    try:
        restored = await restore_artefact(outcome.artefact, job, f"{SERVER}/{name}", REDACT)
        assert restored.ok, restored.reason
        assert sql("SELECT count(*) FROM orders", name).strip() == "7000"
        with pytest.raises(BackupRefused, match="exists already"):
            await restore_artefact(outcome.artefact, job, f"{SERVER}/{name}", REDACT)
    finally:
        drop(name)
