"""The demo's first backup, taken as it starts when its job has no verified backup yet: the job
runs every few minutes, and until its first run the check ``backups.<job>`` would fail with "no
verified backup yet" and page before the newcomer has broken anything. A demo started again
keeps the backups it had, so one left stale while the demo was stopped shows as stale.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.backups.jobs import jobs_of
from vigil.backups.manifest import artefacts
from vigil.backups.service import run_job
from vigil.config.load import Stack
from vigil.store.backup_runs import BackupRuns


async def first_backup(stack: Stack, engine: AsyncEngine) -> None:
    """Back up and verify each job of ``stack`` that has no verified backup; a failure is
    recorded like a scheduled one's, and the job's check says it."""
    for job in jobs_of(stack).values():
        listed = await asyncio.to_thread(artefacts, job.destination)
        if not any(manifest.good for _, manifest in listed):
            await run_job(job, stack.redactor, record=BackupRuns(engine).record)
