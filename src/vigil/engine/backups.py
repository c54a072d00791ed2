"""The backup watch: runs each job on its schedule inside ``vigil up`` and hands its check's
verdict (``backups.recovery``) to the result flow, as the heartbeat watch does for pings.

A new job (no backup on disk, no run on record) is not judged before its first step (its
schedule's first moment, or one asked for from the API): until then its check is pending, as a
new heartbeat's is, rather than paging "no verified backup yet" at the first start of a stack
file that has just declared it. A job whose backups were there once and are gone is judged at
once. A job is judged after each backup and verification, at the moment its newest
verified backup grows older than its ``rpo``, and every ``JUDGE_EVERY`` between: a backup that
goes stale fails on time, with no run to notice it. A backup asked for from the API wakes its
job's loop, which then waits for the new backup's stale moment. A job's own steps run one at a
time; jobs run side by side, each in its own task. The work itself (pg_dump, sqlite3) runs in
subprocesses and threads (``backups.service``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from vigil.backups.jobs import Action, Job, Outcome
from vigil.backups.manifest import artefacts
from vigil.backups.recovery import judge, stale_at
from vigil.backups.service import Record, run_job, verify_artefact
from vigil.config.cron import next_moment
from vigil.engine.clock import Clock, nap
from vigil.probes.base import Result

log = logging.getLogger("vigil.backups")
JUDGE_EVERY = 60.0  # seconds between verdicts when nothing runs
# Judged this long after the stale moment, so that the age is past the rpo, not equal to it.
PAST_STALE = timedelta(milliseconds=50)
ResultHandler = Callable[[Result], Awaitable[None]]
RanBefore = Callable[[str], Awaitable[bool]]


async def _never(job: str) -> bool:
    return False


class BackupWatch:
    def __init__(
        self,
        jobs: Sequence[Job],
        submit: ResultHandler,
        clock: Clock,
        redact: Callable[[str], str],
        record: Record,
        ran_before: RanBefore = _never,
    ) -> None:
        self.jobs = list(jobs)
        self.submit = submit
        self.clock = clock
        self.redact = redact
        self.record = record
        self.ran_before = ran_before  # whether a job has a run on record
        self.last: dict[str, Outcome] = {}  # each job's last backup or verification
        self.stale: dict[str, datetime | None] = {}  # when each job's recovery point goes stale
        self._wake = {job.name: asyncio.Event() for job in self.jobs}

    async def run(self) -> None:
        """Run and judge every job until cancelled."""
        async with asyncio.TaskGroup() as group:
            for job in self.jobs:
                group.create_task(self._follow(job), name=f"vigil-backup-{job.name}")

    async def _follow(self, job: Job) -> None:
        config = job.config
        backup_at = next_moment(config.schedule, config.timezone, self.clock.now())
        verify_at = self._next_verify(job, self.clock.now())
        wake = self._wake[job.name]
        new = not await asyncio.to_thread(artefacts, job.destination) and not await self.ran_before(job.name)
        while True:
            wake.clear()
            if not new or job.name in self.last:
                await self.judge(job)
            now = self.clock.now()
            stale = self.stale.get(job.name)
            goes_stale = stale + PAST_STALE if stale is not None else None
            moments = (backup_at, verify_at, goes_stale if goes_stale and goes_stale > now else None)
            due = min(m for m in moments if m is not None)
            await nap(self.clock, max(0.0, min((due - now).total_seconds(), JUDGE_EVERY)), wake)
            now = self.clock.now()
            if now >= backup_at:
                backup_at = next_moment(config.schedule, config.timezone, now)
                self.last[job.name] = await self.step(job, verify=False)
            if verify_at is not None and now >= verify_at:
                verify_at = self._next_verify(job, now)
                self.last[job.name] = await self.step(job, verify=True)

    async def run_now(self, job: Job, *, verify: bool = False) -> Outcome:
        """A backup (or a verification of the newest) asked for from the API, judged at once."""
        self.last[job.name] = outcome = await self.step(job, verify=verify)
        await self.judge(job)
        if job.name in self._wake:
            self._wake[job.name].set()
        return outcome

    async def step(self, job: Job, *, verify: bool) -> Outcome:
        """Back up (verifying after, unless its verification has its own schedule) or verify the
        newest backup; a failure is the outcome's reason, logged once here."""
        if verify:
            listed = await asyncio.to_thread(artefacts, job.destination)
            if not listed:
                return Outcome(
                    job.name, Action.VERIFY, False, self.clock.now(), 0.0, reason="no backup to verify"
                )
            outcome = await verify_artefact(listed[0][0], job, self.redact, record=self.record)
        else:
            outcome = await run_job(job, self.redact, record=self.record, now=self.clock.now())
        if not outcome.ok:
            log.warning("%s of backup job %s failed: %s", outcome.action, job.name, outcome.reason)
        return outcome

    async def judge(self, job: Job) -> Result:
        listed = await asyncio.to_thread(artefacts, job.destination)
        now = self.clock.now()
        observation = judge(listed, self.last.get(job.name), job.config.rpo, now)
        self.stale[job.name] = stale_at(listed, job.config.rpo)
        last = self.last.get(job.name)
        took = last.duration_s * 1000 if last else 0.0
        result = Result(job.check_id, observation.ok, took, now, observation.reason, dict(observation.values))
        await self.submit(result)
        return result

    def _next_verify(self, job: Job, after: datetime) -> datetime | None:
        schedule = job.config.verify.schedule
        return next_moment(schedule, job.config.timezone, after) if schedule else None
