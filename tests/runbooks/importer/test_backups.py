"""``vigil import`` drafts ``backups:`` from a runbook's backup commands and what it says around
them: engine, source as an environment reference, schedule, retention, verification, RPO/RTO.
Each draft is read back as ``vigil validate`` reads it, with nothing set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbooks.importer.drafting import drafted
from vigil.config.backups import BackupJob

CRONTAB = """# Shop runbook

## Backups

Recovery objectives: RPO: 1 hour, RTO: 30 minutes. We keep the last 14 backups.

```bash
# crontab on the db host
15 * * * * mysqldump --single-transaction -h db $MYSQL_URL > /backups/shop-$(date +%H).sql
```
"""

PROSE = """# API runbook

## Disaster recovery

Backups run nightly at 03:30 Europe/Berlin. Retention: 30 days.
Each week we restore into a test database to prove they work.

```bash
pg_dump "$DATABASE_URL" -Fc > backup.dump
DATABASE_URL=postgresql://app:hunter2@db.internal:5432/app
```
"""

ELSEWHERE = """# Search runbook

## Backups

Snapshots are taken every 6 hours.

```bash
mongodump --uri "$MONGODB_URL" --out /backups/mongo
curl -X POST "$QDRANT_URL/collections/docs/snapshots"
redis-cli -u $REDIS_URL BGSAVE
sqlite3 data/app.db ".backup backups/app.db"
```
"""


def test_a_crontab_line_gives_the_schedule_and_the_objectives_are_the_runbooks(tmp_path: Path) -> None:
    model, text = drafted(tmp_path, CRONTAB)
    job = model.backups["mysql"]
    assert isinstance(job, BackupJob)
    assert (job.engine, job.schedule, job.keep.count, job.rpo, job.rto) == (
        "mariadb",
        "15 * * * *",
        14,
        3600,
        1800,
    )
    assert (
        "source: ${MYSQL_URL:-mysql://root@127.0.0.1:3306/mysql}  # $MYSQL_URL, as the runbook's command reads it"
        in text
    )
    assert "schedule: 15 * * * *  # its crontab line" in text
    assert "rpo: 1h  # runbook.md:5: Recovery objectives: RPO: 1 hour, RTO: 30 minutes." in text
    assert "verify: list  # the runbook checks its backups no way Vigil reads" in text


def test_prose_gives_schedule_zone_retention_and_a_restore_and_no_secret_is_copied(tmp_path: Path) -> None:
    model, text = drafted(tmp_path, PROSE)
    job = model.backups["postgres"]
    assert isinstance(job, BackupJob)
    assert (job.schedule, job.timezone, job.keep.age, str(job.verify.how)) == (
        "30 3 * * *",
        "Europe/Berlin",
        30 * 86400,
        "restore",
    )
    assert job.source == "postgresql://postgres@127.0.0.1:5432/postgres"  # the local default, unset
    assert "hunter2" not in text and "db.internal" not in text
    assert job.rpo == 25 * 3600 and job.rto is None


def test_mongodb_qdrant_redis_and_sqlite_dumps_become_jobs_vigil_takes(tmp_path: Path) -> None:
    model, _ = drafted(tmp_path, ELSEWHERE)
    assert set(model.backups) == {"mongodb", "qdrant", "redis", "sqlite"}
    jobs = {name: job for name, job in model.backups.items() if isinstance(job, BackupJob)}
    assert {name: (job.engine, job.source) for name, job in jobs.items()} == {
        "mongodb": ("mongodb", "mongodb://127.0.0.1:27017/app"),
        "qdrant": ("qdrant", "http://127.0.0.1:6333/collections/docs"),
        "redis": ("redis", "redis://127.0.0.1:6379/0"),
        "sqlite": ("sqlite", "data/app.db"),
    }
    assert {job.schedule for job in jobs.values()} == {"0 */6 * * *"}
    assert all(job.rpo == 7 * 3600 for job in jobs.values())


@pytest.mark.parametrize(
    "markdown",
    [
        "# Ops\n\n## Backups\n\nWe rely on the platform's backups.\n",
        "# Ops\n\n```bash\npg_restore --list backup.dump\n```\n",
    ],
)
def test_no_dump_command_drafts_no_job(tmp_path: Path, markdown: str) -> None:
    model, text = drafted(tmp_path, markdown)
    assert model.backups == {} and "\nbackups:" not in text
