"""Retention deletes only what is past keep, never the newest verified backup; the recovery
point fails a job whose newest verified backup is older than its rpo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.backups.conftest import make_job
from vigil.backups.jobs import Action, Outcome
from vigil.backups.manifest import Manifest, Verified, artefacts, write_manifest
from vigil.backups.recovery import judge
from vigil.backups.service import prune

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def made(folder: Path, hours_ago: int, *, good: bool) -> Path:
    at = NOW - timedelta(hours=hours_ago)
    path = folder / f"appdb-{hours_ago:03d}.sqlite"
    path.write_bytes(b"x")
    verified = Verified(good, at, "list", 0.1, None if good else "broken")
    write_manifest(path, Manifest("appdb", "sqlite", at, "0" * 64, 1, 0.5, "3", "3", {}, verified))
    return path


def test_past_keep_is_deleted_but_the_newest_verified_copy_stays(tmp_path: Path) -> None:
    job = make_job(tmp_path, "x.db", engine="sqlite", keep={"count": 2, "age": "1d"})
    job.destination.mkdir()
    old_good = made(job.destination, 50, good=True)
    for hours in (1, 2, 30, 40):
        made(job.destination, hours, good=False)
    gone = prune(job, NOW)
    left = [path.name for path, _ in artefacts(job.destination)]
    assert left == ["appdb-001.sqlite", "appdb-002.sqlite", old_good.name]
    assert sorted(p.name for p in gone) == ["appdb-030.sqlite", "appdb-040.sqlite"]


def test_the_recovery_point_fails_past_the_rpo_and_after_a_failed_run(tmp_path: Path) -> None:
    made(tmp_path, 2, good=True)
    listed = artefacts(tmp_path)
    stale = judge(listed, None, 3600.0, NOW)
    assert not stale.ok
    assert stale.reason == "the newest verified backup is 2h old (taken 2026-03-01 10:00:00 UTC); rpo 1h"
    assert stale.values["recovery_point_seconds"] == 7200
    assert judge(listed, None, 3 * 3600.0, NOW).ok
    failed = Outcome("appdb", Action.BACKUP, False, NOW, 1.0, reason="pg_dump failed (exit 1): boom")
    assert (
        judge(listed, failed, 3 * 3600.0, NOW).reason
        == "the last backup failed: pg_dump failed (exit 1): boom"
    )
    assert judge([], None, None, NOW).reason == "no verified backup yet"
