"""``vigil backup`` as a user runs it: a real process, the issue's stack file shape on SQLite,
exit 0 on success, 1 on a failed operation, 2 when asked wrongly."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.backups.conftest import SEED, dropdb, psql
from tests.backups.test_registry import EXAMPLE

VIGIL = [sys.executable, "-m", "vigil.cli", "backup"]
# The stack file, on SQLite: a database of its own that the test can make and break.
STACK = EXAMPLE.replace("engine: postgres", "engine: sqlite").replace(
    "${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}", "${APP_DB:-app.db}"
)


def vigil(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIGIL, *args, "-c", str(tmp_path / "vigil.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env if env is not None else {k: v for k, v in os.environ.items() if k != "APP_DB"},
    )


def test_run_list_verify_restore_and_their_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "vigil.yaml").write_text(STACK)
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        conn.executemany("INSERT INTO orders (total) VALUES (?)", [(i * 1.5,) for i in range(5000)])
    ran = vigil(tmp_path, "run", "appdb")
    assert ran.returncode == 0, ran.stderr
    [row] = json.loads(vigil(tmp_path, "list", "appdb", "--json").stdout)
    assert {"path", "created_at", "size", "checksum", "verified"} <= set(row) and row["verified"] is True
    assert vigil(tmp_path, "verify", row["path"]).returncode == 0
    restored = vigil(tmp_path, "restore", row["path"], "--to", str(tmp_path / "scratch.db"))
    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(tmp_path / "scratch.db") as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (5000,)
    exists = vigil(tmp_path, "restore", row["path"], "--to", str(tmp_path / "scratch.db"))
    assert exists.returncode == 2 and "exists already" in exists.stderr
    Path(row["path"]).write_bytes(b"SQLite format 3\x00" + b"\x00" * 64)
    broken = vigil(tmp_path, "verify", row["path"])
    assert broken.returncode == 1 and "checksum mismatch" in broken.stderr
    unknown = vigil(tmp_path, "run", "nope")
    assert unknown.returncode == 2 and "no backup job 'nope'" in unknown.stderr
    (tmp_path / "app.db").unlink()
    failed = vigil(tmp_path, "run", "appdb")
    assert failed.returncode == 1
    assert f"backup of appdb failed: the SQLite database {tmp_path}/app.db does not exist" in failed.stderr
    assert "Traceback" not in failed.stderr + unknown.stderr + broken.stderr


def test_restore_brings_a_dropped_table_back_in_a_scratch_postgres_database(tmp_path: Path) -> None:
    """The issue's "done when", as a user does it: back up a real PostgreSQL database with the
    issue's stack file, drop a table, restore the backup into a new database and find the table
    there with its rows, the source left as it was."""
    name, scratch = f"vigil_cli_src_{secrets.token_hex(4)}", f"vigil_cli_scratch_{secrets.token_hex(4)}"
    source = f"postgresql://postgres@127.0.0.1:5432/{name}"
    psql("postgres", f'CREATE DATABASE "{name}"')
    try:
        psql(name, SEED)
        (tmp_path / "vigil.yaml").write_text(EXAMPLE)
        env = {**os.environ, "DATABASE_URL": source}
        ran = vigil(tmp_path, "run", "appdb", env=env)
        assert ran.returncode == 0, ran.stderr
        [row] = json.loads(vigil(tmp_path, "list", "appdb", "--json", env=env).stdout)
        assert row["verified"] is True
        psql(name, "DROP TABLE orders")
        target = f"postgresql://postgres@127.0.0.1:5432/{scratch}"
        restored = vigil(tmp_path, "restore", row["path"], "--to", target, env=env)
        assert restored.returncode == 0, restored.stderr
        assert psql(scratch, "SELECT count(*), sum(total) FROM orders").strip() == "7000|36755250.0"
        assert psql(name, "SELECT to_regclass('public.orders') IS NULL").strip() == "t"
    finally:
        dropdb(name)
        dropdb(scratch)


def test_a_relative_destination_and_source_are_read_from_the_stack_files_folder_not_the_cwd(
    tmp_path: Path,
) -> None:
    folder, elsewhere = tmp_path / "stack", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "vigil.yaml").write_text(STACK)
    with sqlite3.connect(folder / "app.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    env = {k: v for k, v in os.environ.items() if k != "APP_DB"}

    def vigil_from_elsewhere(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "vigil.cli", *args, "-c", "../stack/vigil.yaml"]
        return subprocess.run(
            command, cwd=elsewhere, capture_output=True, text=True, timeout=120, env=env, check=False
        )

    ran = vigil_from_elsewhere("backup", "run", "appdb")
    assert ran.returncode == 0, ran.stderr
    [artefact] = (folder / ".vigil" / "backups" / "appdb").glob("appdb-*.sqlite")
    assert str(artefact) in ran.stdout
    assert list(elsewhere.iterdir()) == []
    checked = vigil_from_elsewhere("check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [result] = [r for r in json.loads(checked.stdout) if r["id"] == "backups.appdb"]
    assert result["ok"] is True and "recovery_point_seconds" in result["values"], result


def test_a_run_is_recorded_in_the_stack_files_store_opened_while_it_runs(tmp_path: Path) -> None:
    import asyncio

    from vigil.store.database import default_url, open_database

    async def make_store() -> None:
        await (await open_database(default_url(tmp_path / ".vigil"), create=True)).dispose()

    asyncio.run(make_store())
    (tmp_path / "vigil.yaml").write_text(STACK)
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    ran = vigil(tmp_path, "run", "appdb")
    assert ran.returncode == 0 and "not recorded" not in ran.stderr, ran.stderr
    unknown = vigil(tmp_path, "run", "nope")
    assert unknown.returncode == 2 and "no backup job 'nope'" in unknown.stderr
    with sqlite3.connect(tmp_path / ".vigil" / "vigil.db") as conn:
        rows = conn.execute("SELECT job, action, ok FROM backup_runs ORDER BY id").fetchall()
    assert rows == [("appdb", "verify", 1), ("appdb", "backup", 1)]
