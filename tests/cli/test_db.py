"""``vigil db …`` as a user runs it: real processes on a database of the test's own, named by URL
or by what the stack file calls it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.maintenance.chores.conftest import idle_sessions, pg_url  # noqa: F401  (a fixture)

VIGIL = [sys.executable, "-m", "vigil.cli", "db"]
SRC = str(Path(__file__).resolve().parents[2] / "src")  # the tree under test, from any folder


def vigil(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIGIL_CONFIG")}
    env["PYTHONPATH"] = os.pathsep.join([SRC, *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run(
        [*VIGIL, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd, env=env
    )


def stack(tmp_path: Path, url: str) -> Path:
    checks = {"primary": {"postgres": url}, "replica": {"postgres": url}}
    (tmp_path / "vigil.yaml").write_text(yaml.safe_dump({"services": {"shop": {"checks": checks}}}))
    return tmp_path


def test_kill_idle_lists_without_yes_and_ends_with_it(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    folder = stack(tmp_path, pg_url)
    with idle_sessions(pg_url, 2) as others:
        time.sleep(1.2)
        dry = vigil("kill-idle", "--older-than", "1s", "--db", "shop.primary", cwd=folder)
        assert dry.returncode == 0, dry.stderr
        assert "dry run: nothing ended; run again with --yes to end 2 session(s)" in dry.stdout
        assert all(str(pid) in dry.stdout for pid in others)
        assert "vigil.audit" not in dry.stderr  # a listing changes nothing, so it is not audited

        done = vigil(
            "kill-idle", "--older-than", "1s", "--db", "shop.primary", "--yes", "--json", "--as", "alice",
            cwd=folder,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        swept = json.loads(done.stdout)
        assert sorted(swept["killed"]) == sorted(others) and not swept["dry_run"]
        [audited] = [line for line in done.stderr.splitlines() if "vigil.audit" in line]
        assert "alice ended 2 idle session(s) on shop.primary (postgresql://postgres@" in audited
        assert all(str(pid) in audited for pid in others)


def test_sizes_and_long_queries_answer_json(pg_url: str) -> None:  # noqa: F811
    sizes = vigil("sizes", "--db", pg_url, "--json", "--limit", "1")
    assert sizes.returncode == 0, sizes.stderr
    assert [t["name"] for t in json.loads(sizes.stdout)["tables"]] == ["orders"]
    long = vigil("long-queries", "--db", pg_url, "--longer-than", "10m", "--json")
    assert (long.returncode, json.loads(long.stdout)) == (0, [])
    vacuum = vigil("vacuum", "orders", "--db", pg_url, "--as", "bob")
    assert vacuum.returncode == 0 and vacuum.stdout.startswith("vacuumed and analyzed public.orders in ")
    assert "vigil.audit: bob vacuumed and analyzed orders on --db (postgresql://" in vacuum.stderr


def test_wrong_input_is_one_line_and_exit_2(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    folder = stack(tmp_path, pg_url)
    cases = [
        (("sizes", "--db", "shop"), "service shop has several databases (shop.primary, shop.replica)"),
        (("sizes", "--db", "nope"), "--db nope names no database check, service or env: variable"),
        (("sizes", "--db", "redis://127.0.0.1/0"), "--db is not a postgresql:// or mysql:// URL"),
        (("sizes", "--db", pg_url, "--limit", "0"), "--limit must be 1 to 500, not 0"),
        (("vacuum", "nosuch", "--db", pg_url), "no table 'nosuch' in this database"),
        (("kill-idle", "--older-than", "soon", "--db", pg_url), "'soon' is not a duration"),
    ]
    for args, message in cases:
        ran = vigil(*args, cwd=folder)
        assert ran.returncode == 2, (args, ran.stdout, ran.stderr)
        assert message in " ".join(ran.stderr.split()), ran.stderr
        assert "Traceback" not in ran.stderr


def test_an_unreachable_database_fails_with_exit_1_and_no_password() -> None:
    ran = vigil("long-queries", "--db", "postgresql://app:hunter22@127.0.0.1:9/app")
    assert ran.returncode == 1 and "127.0.0.1:9" in ran.stderr and "hunter22" not in ran.stderr
