"""The shell finds the server's state: ``vigil silence|incident|token|maintenance`` use the store
of ``-c``, ``VIGIL_CONFIG`` or the nearest ``vigil.yaml`` up from the current folder, the store a
running ``vigil up`` uses, and never make a store of their own. Real processes throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.server.conftest import wait_until

VIGIL = [sys.executable, "-m", "vigil.cli"]
STACK = "services:\n  api:\n    checks:\n      health: {tcp: '127.0.0.1:9', every: 1h, alert: false}\n"


def vigil(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("VIGIL_CONFIG", "VIGIL_DB")}
    return subprocess.run(
        [*VIGIL, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**environ, "USER": "ana", **(env or {})},
    )


def files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with its stack file at the top and a deep subfolder; and a folder beside it."""
    (tmp_path / "project" / "deploy" / "scripts").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "project" / "vigil.yaml").write_text(STACK)
    return tmp_path / "project"


@pytest.fixture
def served(project: Path) -> Iterator[str]:
    """``vigil up -c project/vigil.yaml`` started from another folder, with no --db: its store
    goes beside the stack file."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (project.parent / "vigil.log").open("w")
    proc = subprocess.Popen(
        [*VIGIL, "up", "-c", str(project / "vigil.yaml"), "--port", str(port)],
        cwd=project.parent / "elsewhere",
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"vigil up exited: {(project.parent / 'vigil.log').read_text()}")
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 30, "vigil up to be ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_a_silence_from_a_folder_without_a_stack_file_is_refused_and_creates_nothing(
    project: Path,
) -> None:
    elsewhere = project.parent / "elsewhere"
    before = files(project.parent)
    out = vigil("silence", "add", "service=api", "--comment", "deploy", cwd=elsewhere)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip() == (
        f"no stack file: looked for vigil.yaml in {elsewhere} and every folder above it; "
        "pass -c FILE (or set VIGIL_CONFIG), or --db URL"
    )
    assert files(project.parent) == before


@pytest.mark.parametrize(
    "command",
    [
        ["silence", "add", "service=api", "--comment", "deploy"],
        ["silence", "list"],
        ["maintenance", "start", "db-move", "--comment", "moving"],
        ["incident", "list"],
        ["incident", "ack", "1"],
        ["token", "create", "--name", "alice"],
    ],
)
def test_before_vigil_up_made_the_store_a_command_says_so_and_makes_none(
    project: Path, command: list[str]
) -> None:
    out = vigil(*command, cwd=project / "deploy")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"no Vigil store at {project / '.vigil' / 'vigil.db'}; "
        f"start `vigil up -c {project / 'vigil.yaml'}` first or pass --db"
    )
    assert not (project / ".vigil").exists()
    assert not (project / "deploy" / ".vigil").exists()


def test_a_db_that_does_not_exist_is_refused_rather_than_made(project: Path) -> None:
    out = vigil("token", "create", "--db", "sqlite:///typo.db", cwd=project)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"no Vigil store at {project / 'typo.db'}; check --db, or start `vigil up` with that --db first"
    )
    assert not (project / "typo.db").exists()


def test_from_a_subfolder_the_shell_uses_the_store_the_server_uses(project: Path, served: str) -> None:
    assert (project / ".vigil" / "vigil.db").is_file()  # beside the stack file, not where it ran
    assert not (project.parent / "elsewhere" / ".vigil").exists()
    scripts = project / "deploy" / "scripts"
    made = vigil("token", "create", "--role", "admin", "--name", "ana", "--json", cwd=scripts)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]

    added = vigil("silence", "add", "service=api", "--for", "2h", "--comment", "deploy", cwd=scripts)
    assert added.returncode == 0, added.stderr
    started = vigil("maintenance", "start", "db-move", "--comment", "moving", cwd=scripts)
    assert started.returncode == 0, started.stderr

    headers = {"Authorization": f"Bearer {token}"}
    silences = httpx.get(f"{served}/api/v1/silences", headers=headers, timeout=5).json()
    assert [(s["comment"], s["created_by"]) for s in silences] == [("deploy", "ana")]
    windows = httpx.get(f"{served}/api/v1/maintenance", headers=headers, timeout=5).json()
    assert [w["name"] for w in windows] == ["db-move"]

    # VIGIL_CONFIG names the stack file from anywhere.
    listed = vigil(
        "silence",
        "list",
        "--json",
        cwd=project.parent / "elsewhere",
        env={"VIGIL_CONFIG": str(project / "vigil.yaml")},
    )
    assert listed.returncode == 0, listed.stderr
    assert [s["comment"] for s in json.loads(listed.stdout)] == ["deploy"]


def test_a_relative_store_url_is_taken_from_the_stack_file_folder(project: Path) -> None:
    (project / "vigil.yaml").write_text(STACK + "store: {url: 'sqlite:///state/vigil.db'}\n")
    out = vigil("incident", "list", cwd=project / "deploy")
    assert out.returncode == 2
    assert f"no Vigil store at {project / 'state' / 'vigil.db'};" in out.stderr


def test_a_postgresql_database_without_vigil_tables_is_not_made_a_store(
    project: Path, postgres_url: str
) -> None:
    out = vigil("silence", "add", "service=api", "--comment", "x", "--db", postgres_url, cwd=project)
    assert out.returncode == 2
    assert "no Vigil store at postgresql://postgres@127.0.0.1:5432/" in out.stderr
    assert "(no Vigil tables there)" in out.stderr
    tables = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", postgres_url.rsplit("/", 1)[1], "-qAtc", "\\dt"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert tables.stdout.strip() == ""


def test_a_runbook_run_on_an_incident_needs_the_server_store(project: Path) -> None:
    (project / "ops.md").write_text('# Ops\n\n## Check the API\n\n```bash\necho "api is up"\n```\n')
    (project / "vigil.yaml").write_text(STACK + "runbooks: ['*.md']\n")
    deploy = project / "deploy"
    noted = vigil("runbook", "run", "Check the API", "--incident", "1", cwd=deploy)
    assert noted.returncode == 2
    assert noted.stderr.strip() == (
        f"no Vigil store at {project / '.vigil' / 'vigil.db'}; "
        f"start `vigil up -c {project / 'vigil.yaml'}` first or pass --db"
    )
    assert not (project / ".vigil").exists()
    # A run of its own is recorded in the stack file's store, made where `vigil up` would make it.
    alone = vigil("runbook", "run", "Check the API", cwd=deploy)
    assert alone.returncode == 0, alone.stderr
    assert "api is up" in alone.stdout
    assert (project / ".vigil" / "vigil.db").is_file()
    assert not (deploy / ".vigil").exists()
