"""A database of the test's own on the local PostgreSQL: a table of 5,000 rows, one index that
queries use and one that none does; and idle sessions held by another process."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]
FILL = """
CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL, note text NOT NULL);
INSERT INTO orders (customer, note) SELECT i % 100, repeat('x', 60) || i FROM generate_series(1, 5000) i;
CREATE INDEX orders_by_customer ON orders (customer);
CREATE INDEX orders_by_note ON orders (note);
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes SELECT i, 'n' FROM generate_series(1, 10) i;
ANALYZE;
SET enable_seqscan = off;
SELECT count(*) FROM orders WHERE customer = 5;
"""
# Holds `count` idle sessions open from a process other than the test's, printing their ids,
# until its stdin closes.
HOLDER = """
import asyncio, json, sys
async def session(url):
    if url.startswith("mysql"):
        import aiomysql
        from vigil.probes.mysql import connect_args
        conn = await aiomysql.connect(**connect_args(url))
        return conn, conn.thread_id()
    import asyncpg
    conn = await asyncpg.connect(url)
    return conn, conn.get_server_pid()
async def main(url, count):
    held = [await session(url) for _ in range(count)]
    print(json.dumps([pid for _, pid in held]), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"vigil_chores_{secrets.token_hex(4)}"
    subprocess.run(
        [*PSQL, "-d", "postgres", "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True
    )
    try:
        # A session's statistics reach the shared counters when it ends, as this psql does.
        subprocess.run([*PSQL, "-d", name], input=FILL, text=True, check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        subprocess.run([*PSQL, "-d", "postgres", "-c", drop], capture_output=True, check=False)


@contextmanager
def idle_sessions(url: str, count: int) -> Iterator[list[int]]:
    """``count`` idle sessions on ``url`` held by another process; their ids."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        yield [int(pid) for pid in json.loads(holder.stdout.readline())]
    finally:
        holder.kill()
        holder.wait(10)


MARIADB = ["mariadb", "-h", "127.0.0.1", "-u", "root", "--batch"]
MARIADB_FILL = """
CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, note VARCHAR(100) NOT NULL,
  KEY orders_by_customer (customer)) ENGINE=InnoDB;
INSERT INTO orders (customer, note) SELECT seq % 100, CONCAT(REPEAT('x', 60), seq) FROM seq_1_to_5000;
CREATE TABLE notes (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB;
INSERT INTO notes SELECT seq, 'n' FROM seq_1_to_10;
ANALYZE TABLE orders, notes;
"""


@pytest.fixture(scope="module")
def maria_url() -> Iterator[str]:
    name = f"vigil_chores_{secrets.token_hex(4)}"
    subprocess.run([*MARIADB, "-e", f"CREATE DATABASE `{name}`"], check=True, capture_output=True)
    try:
        subprocess.run([*MARIADB, name], input=MARIADB_FILL, text=True, check=True, capture_output=True)
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        subprocess.run(
            [*MARIADB, "-e", f"DROP DATABASE IF EXISTS `{name}`"], capture_output=True, check=False
        )
