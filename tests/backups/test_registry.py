"""Every backup engine module is registered once, and the stack file's backups: reads as the issue writes it."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import vigil.backups
from vigil.backups.base import EngineKind
from vigil.backups.registry import ENGINES, engine_kind
from vigil.config.backups import BackupJob
from vigil.config.load import parse_stack
from vigil.errors import ConfigError
from vigil.probes.backup import BackupCheck

EXAMPLE = """
backups:
  appdb:
    engine: postgres
    source: ${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}
    schedule: "0 2 * * *"
    timezone: UTC
    destination: .vigil/backups/appdb
    keep: {count: 7, age: 7d}
    verify: restore
    rpo: 1h
    rto: 1h
"""


def test_every_engine_module_with_a_kind_is_in_the_registry() -> None:
    declared = set()
    for info in pkgutil.iter_modules(vigil.backups.__path__):
        kind = getattr(importlib.import_module(f"vigil.backups.{info.name}"), "KIND", None)
        if isinstance(kind, EngineKind):
            declared.add(kind.name)
    assert declared == set(ENGINES)
    assert [engine_kind(name).name for name in ENGINES] == list(ENGINES)


# A fresh interpreter reads the stack file, then runs the job's engine as `vigil backup` would
# make it, and names the engine modules and drivers loaded after each step.
LOADED_ENGINES = """
import json, sys
from vigil.backups.jobs import jobs_of
from vigil.backups.registry import ENGINES
from vigil.config.load import load_stack

def engines():
    return sorted(n for n in sys.modules if n.split(".")[0] in {"pymongo", "bson", "aiomysql"}
                  or n.startswith("vigil.backups.") and n.split(".")[2] in ENGINES)

stack = load_stack(sys.argv[1])
read = engines()
[job] = jobs_of(stack).values()
job.engine()
print(json.dumps({"read": read, "run": engines()}))
"""


def test_an_engine_module_loads_when_a_job_of_it_runs_not_when_the_stack_file_is_read(tmp_path: Path) -> None:
    stack = tmp_path / "vigil.yaml"
    stack.write_text(
        'backups:\n  notes:\n    {engine: sqlite, source: notes.db, schedule: "0 2 * * *", destination: b, keep: {count: 1}}\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", LOADED_ENGINES, str(stack)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"read": [], "run": ["vigil.backups.sqlite"]}


def test_the_issues_example_is_a_check_named_backups_appdb_with_its_secret_masked() -> None:
    stack = parse_stack("vigil.yaml", EXAMPLE, {"DATABASE_URL": "postgresql://app:hunter22@db/app"})
    [spec] = stack.specs()
    assert spec.id == "backups.appdb" and isinstance(spec.config, BackupCheck)
    job = stack.model.backups["appdb"]
    assert isinstance(job, BackupJob)
    assert (job.rpo, job.rto, job.keep.count, job.keep.age, str(job.verify.how)) == (
        3600,
        3600,
        7,
        7 * 86400,
        "restore",
    )
    assert stack.redactor(f"failed for {job.source}") == "failed for postgresql://app:***@db/app"
    assert "hunter22" not in spec.config.target


def test_mongodb_and_qdrant_jobs_are_accepted_with_their_urls_masked() -> None:
    text = EXAMPLE.replace("engine: postgres", "engine: mongodb") + EXAMPLE.split("appdb:", 1)[1].replace(
        "engine: postgres", "engine: qdrant"
    ).replace("DATABASE_URL", "QDRANT_URL").join(["  vectors:", ""])
    env = {
        "DATABASE_URL": "mongodb://app:m0ngo-pw@db/app",
        "QDRANT_URL": "http://:qdr-key@q:6333/collections/faq",
    }
    stack = parse_stack("vigil.yaml", text, env)
    assert [(s.id, s.config.backup.engine) for s in stack.specs() if isinstance(s.config, BackupCheck)] == [
        ("backups.appdb", "mongodb"),
        ("backups.vectors", "qdrant"),
    ]
    jobs = [job for job in stack.model.backups.values() if isinstance(job, BackupJob)]
    assert len(jobs) == 2
    shown = stack.redactor(" ".join(job.source for job in jobs))
    assert "m0ngo-pw" not in shown and "qdr-key" not in shown


def test_faults_in_a_job_are_placed_at_their_line() -> None:
    text = EXAMPLE.replace('"0 2 * * *"', "nightly").replace("rpo: 1h", "rpo: soon")
    try:
        parse_stack("vigil.yaml", text)
    except ConfigError as err:
        lines = str(err).splitlines()
    else:
        raise AssertionError("accepted")
    assert lines[0].startswith("vigil.yaml:6:15: backups.appdb.schedule: 'nightly' is not a cron expression")
    assert lines[1].startswith("vigil.yaml:11:10: backups.appdb.rpo: 'soon' is not a duration")


def test_a_backup_written_as_a_services_check_is_refused_for_it_would_never_run() -> None:
    text = 'services:\n  db:\n    checks:\n      b: {backup: {engine: sqlite, source: x.db, schedule: "0 2 * * *", destination: b, keep: {count: 1}}}\n'
    try:
        parse_stack("vigil.yaml", text)
    except ConfigError as err:
        assert "a backup job is written under backups:" in str(err)
    else:
        raise AssertionError("accepted")
