"""Everything ``vigil up`` runs, built from one stack file and one store, started and stopped
together: the scheduler, the result flow, the outbox worker and the status board.

The API and dashboard read from here (``app.state.runtime``); they never build parts of their own.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.alerting.alert_states import AlertStates
from vigil.alerting.check_failures import CheckFailures
from vigil.alerting.evaluator import Query, RuleEvaluator
from vigil.alerting.inhibition import DependencyGraph
from vigil.alerting.local import LocalQuery
from vigil.alerting.quiet import QuietRules
from vigil.alerting.remote import prometheus_query
from vigil.backups.jobs import jobs_of
from vigil.config.load import Stack
from vigil.engine.backups import BackupWatch
from vigil.engine.board import StatusBoard
from vigil.engine.clock import Clock, SystemClock
from vigil.engine.heartbeats import HeartbeatWatch
from vigil.engine.runner import CheckRunner, ProbeSet
from vigil.engine.scheduler import Scheduler
from vigil.engine.supervisor import Supervisor
from vigil.flow import build_result_flow
from vigil.incidents.ack_links import AckLinks
from vigil.incidents.gone import resolve_gone
from vigil.incidents.service import IncidentService
from vigil.incidents.targets import TargetWatch
from vigil.metrics.blocks import BlockCollector
from vigil.metrics.compaction import Compactor, open_series
from vigil.metrics.history import HistoryWriter
from vigil.metrics.scrape import Scraper
from vigil.metrics.store import SeriesStore
from vigil.metrics.wal.exposed import LogCollector
from vigil.metrics.wal.log import LogOptions, SeriesLog
from vigil.notify import grouping
from vigil.notify.base import OutboxStatus
from vigil.notify.registry import build_channels
from vigil.notify.store_alarm import SERIES_LOG, StoreAlarm
from vigil.notify.worker import OutboxWorker
from vigil.oncall.contacts import ContactChannels
from vigil.oncall.escalator import Escalator
from vigil.oncall.service import OnCall
from vigil.probes.registry import KINDS
from vigil.runbooks.launch import Launcher
from vigil.runbooks.library import Library, load_library
from vigil.runbooks.live import LiveRun, LiveRuns
from vigil.runbooks.runner import ProcedureRunner
from vigil.runbooks.suggest import Suggestions
from vigil.server.metrics import VigilMetrics
from vigil.store import outbox
from vigil.store.backup_runs import BackupRuns
from vigil.store.identity import StoreCheck
from vigil.store.outbox import OutboxEntry
from vigil.store.results import ResultStore, ResultWriter

log = logging.getLogger("vigil.runtime")


class Runtime:
    def __init__(
        self,
        stack: Stack,
        engine: AsyncEngine,
        *,
        clock: Clock | None = None,
        dashboard_url: str = "",
        series_path: Path | None = None,
    ) -> None:
        """``series_path``: the folder the series store logs its samples to (``metrics.path``);
        without one the series live in memory only."""
        self.stack = stack
        self.engine = engine
        self.clock = clock or SystemClock()
        settings = stack.model
        # Read once at start, like the stack file: a runbook edited later is read at the next start.
        self.library: Library = load_library(stack) if settings.runbooks else Library()
        self.suggestions = Suggestions(self.library, settings)
        self.specs = stack.specs()
        self.oncall = OnCall(stack)
        self.board = StatusBoard(self.specs)
        self.metrics = VigilMetrics()
        self.supervisor = Supervisor(self.clock, redact=stack.redactor)
        self.results = ResultStore(engine)
        self.writer = ResultWriter(
            self.results,
            retention=settings.store.retention,
            clock=self.clock,
            on_written=self.supervisor.stage("writer").recovered,
        )
        self.store = StoreCheck(engine, self.clock)
        self.channels = build_channels(settings.notify)
        # Vigil's self-check pages directly, outside the outbox: the outbox lives in the store.
        writes = [self.supervisor.stage("writer"), self.supervisor.stage("store")]
        self.alarms = [StoreAlarm(writes, self.channels, self.clock, lambda: self.store.id)]
        self.quiet = QuietRules(engine, settings.maintenance, self.clock)
        # People's contacts as channels (pages of escalations), made when first sent to.
        self.contacts = ContactChannels(self.oncall, self.clock)
        # Quiet is judged when a trigger is sent, and again for a held one until the quiet ends.
        self.outbox = OutboxWorker(
            engine,
            self.channels,
            self.clock,
            on_outcome=self._delivered,
            hold=self._hold,
            on_hold=self._held,
            stage=self.supervisor.stage("outbox"),
            windows=grouping.windows(settings.notify),  # channels with group_wait take storms as one
            adopt=self.contacts.channel_for,
            stack=stack.identity,  # sends the pages this stack file queued (store.outbox)
        )
        public = settings.server.public_url or dashboard_url
        self.incidents = IncidentService(
            engine,
            settings,
            self.clock,
            dashboard_url=public,
            on_enqueued=self._enqueued,
            quiet=self.quiet,
            redact=stack.redactor,
            suggest=self.suggestions.for_page,
        )
        self.incidents.stack_id = stack.identity  # its incidents are this stack file's (reads.py)
        self._response_parts(engine, public)
        graph = DependencyGraph({name: s.depends_on for name, s in settings.services.items()})
        self.failures = CheckFailures(engine, self.specs, self.incidents, graph, self.clock)
        self.probes = ProbeSet()
        self._series_parts(series_path)
        self.history = HistoryWriter(self.series, engine, self.clock)
        self.scraper = Scraper(
            {name: service.metrics for name, service in settings.services.items() if service.metrics},
            self.series,
            clock=self.clock,
            jitter=settings.engine.jitter,
        )
        self.http = httpx.AsyncClient()
        self.runner = ProcedureRunner(
            stack,
            self.library,
            engine,
            incidents=self.incidents,
            series=self.series,
            http=self.http,
            clock=self.clock,
        )
        # Runs started from the API and the dashboard, watched live (runbooks.live).
        self.live = LiveRuns(self.runner, self.clock, on_crash=self._run_crashed)
        self.launcher = Launcher(self.live, self.runner, self.library, self.incidents.get)
        local: LocalQuery | None = None
        query: Query
        if settings.prometheus:
            query = prometheus_query(settings.prometheus, self.http)
        else:
            query = local = LocalQuery(settings.alerts, self.series)
        self.rules = RuleEvaluator(
            settings.alerts,
            query,
            self.incidents,
            self.clock,
            every=settings.engine.evaluate_every,
            root_incident=self.failures.root_incident,
            cycle=local.cycle if local else None,
            # Pending and firing alerts survive a restart (alerting.alert_states).
            states=AlertStates(
                engine,
                stack.identity,
                self.clock,
                grace=settings.metrics.restore_for_grace,
                stage=self.supervisor.stage("rules"),
            ),
        )
        self._check_parts(engine)
        self.open_incidents = 0
        self.outbox_depth = 0
        self.metrics.watch(self.metrics.open_incidents, lambda: float(self.open_incidents))
        self.metrics.watch(self.metrics.outbox_depth, lambda: float(self.outbox_depth))
        self.metrics.watch_stages(lambda: list(self.supervisor.stages.values()), lambda: self.writer.dropped)
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False

    def _series_parts(self, folder: Path | None) -> None:
        """The series store; with a folder, over the blocks on disk there, with its write-ahead log
        beside them in ``wal/`` and the compactor that writes new blocks and trims the log."""
        self.series = SeriesStore()
        self.compactor: Compactor | None = None
        self.series_log: SeriesLog | None = None
        if folder is not None:
            self.series, self.compactor = open_series(folder, self.stack.model.metrics)
            self.metrics.registry.register(BlockCollector(self.compactor.blocks))
            self.compactor.wal = self.series_log = self._series_log(folder)

    def _series_log(self, folder: Path) -> SeriesLog:
        settings = self.stack.model.metrics
        stage = self.supervisor.stage("series-log")
        options = LogOptions(retention=settings.retention, max_size=settings.max_size)
        series_log = SeriesLog(folder / "wal", self.clock, stage=stage, options=options)
        self.metrics.registry.register(LogCollector(series_log))
        self.alarms.append(StoreAlarm([stage], self.channels, self.clock, lambda: self.store.id, SERIES_LOG))
        return series_log

    def _check_parts(self, engine: AsyncEngine) -> None:
        """What runs the checks and takes their results: the flow, the heartbeat watch, the scheduler."""
        settings, stack = self.stack.model, self.stack
        self.flow = build_result_flow(
            self.board,
            self.metrics,
            self.failures,
            self.writer,
            {s.id: s.kind for s in self.specs},
            self.series,
        )
        # Heartbeats are judged from their pings, not probed: the watch hands their results to the flow.
        self.heartbeats = HeartbeatWatch(
            self.specs, engine, self.flow, self.clock, stack.redactor, retention=settings.store.retention
        )
        for key in self.heartbeats.given_keys():  # a key written in the stack file is a secret too
            stack.redactor.add(key)
        # Backup jobs run on their schedules here; their checks' verdicts go to the same flow.
        runs = BackupRuns(engine)
        self.backups = BackupWatch(
            list(jobs_of(stack).values()), self.flow, self.clock, stack.redactor, runs.record, runs.ran
        )
        self.scheduler = Scheduler(
            [s for s in self.specs if not KINDS[s.kind].pushed],
            CheckRunner(self.probes, self.clock, stack.redactor),
            self.flow,
            clock=self.clock,
            concurrency=settings.engine.concurrency,
            jitter=settings.engine.jitter,
        )

    def _response_parts(self, engine: AsyncEngine, public: str) -> None:
        """What follows an incident after it opens: its targets, its pages' links, its escalation."""
        # Missed acknowledge and resolve targets, recorded once (incidents.targets).
        self.targets = TargetWatch(self.incidents, self.clock)
        self.metrics.watch_targets(lambda: self.targets.counts)
        # Each page gets its acknowledge link as it leaves; escalations page their steps.
        self.ack_links = AckLinks(engine, self.incidents, self.clock, public)
        self.outbox.prepare = self.ack_links.attach
        self.escalator = Escalator(engine, self.incidents, self.oncall, self.clock, quiet=self.quiet)

    async def start(self) -> None:
        # Before anything judges a check: an incident the stack file no longer accounts for
        # (its check or rule removed or moved) would otherwise stay open forever.
        await resolve_gone(self.incidents, self.stack)
        await self.failures.load()
        await self.store.open()
        await self._refresh()
        await self.heartbeats.load()
        if self.series_log is not None:  # before the first result or rule cycle
            since = self.clock.now().timestamp() - self.series.retention
            await asyncio.to_thread(self.series_log.open, self.series, since=since)
            self._spawn(self.series_log.run, "series-log", reports_recovery=True)
        if self.compactor is not None:
            compactor = self.compactor
            self._spawn(
                lambda: compactor.run(self.clock, self.supervisor.stage("series-blocks")), "series-blocks"
            )
        self._spawn(self.outbox.run, "outbox", reports_recovery=True)
        self._spawn(self.escalator.run, "escalator")
        self._spawn(self.writer.run, "writer", reports_recovery=True)
        self._spawn(self.scheduler.run, "scheduler")
        if self.heartbeats.specs:
            self._spawn(self.heartbeats.run, "heartbeats")
            self._spawn(self.heartbeats.writer.run, "pings")
        if self.backups.jobs:
            self._spawn(self.backups.run, "backups")
        if self.scraper.targets:  # with none to scrape its run ends at once, which is no failure
            self._spawn(self.scraper.run, "scraper")
        if self.rules.rules:
            self._spawn(self.rules.run, "rules")
        if self.incidents.flaps is not None:
            self._spawn(self.incidents.flaps.run, "flapping")
        self._spawn(lambda: self.series.run(self.clock), "series-prune")
        self._spawn(self.history.run, "history")
        self._spawn(lambda: self.store.run(self.supervisor.stage("store")), "store", reports_recovery=True)
        for alarm in self.alarms:
            self._spawn(alarm.run, f"{alarm.subject.name}-alarm")
        if self.oncall.has_calendar_urls:
            self._spawn(lambda: self.oncall.run(self.http, self.clock), "oncall-calendars")
        self._spawn(self._gauges, "gauges")
        self._spawn(self.targets.run, "targets")
        self._spawn(self._collector, "gc")
        self.started = True

    async def stop(self) -> None:
        """Stop probing first, let in-flight results reach the store and the outbox, then the rest."""
        await self.live.stop()  # a run in progress is killed, not left behind the server
        await self.supervisor.stop()
        self._tasks.clear()
        if self.compactor is not None:  # the head into a block: the next start replays little
            try:
                await self.compactor.compact_aside(self.clock.now().timestamp(), closing=True)
            except OSError as err:
                log.error("could not write the series block at stop (the log keeps its samples): %s", err)
        if self.series_log is not None:
            await self.series_log.close()  # a clean stop keeps every sample
        await self.incidents.deliveries.close()  # the timeline lines of the last pages sent
        await self.failures.close()
        if self.rules.states is not None:
            await self.rules.states.batch.close()  # the last cycle's alert changes
        await self.probes.aclose()
        await self.http.aclose()
        for channel in self.channels.values():
            await channel.close()
        await self.contacts.close()
        self.started = False

    def alive(self) -> bool:
        """The event loop turns and the scheduler task has not died: its heartbeat, which beats
        every second also while it waits for a slot or has no checks, is a few seconds old at most."""
        scheduler = next((t for t in self._tasks if t.get_name() == "vigil-scheduler"), None)
        running = scheduler is not None and not scheduler.done()
        return self.started and running and self.clock.monotonic() - self.scheduler.alive_at < 5.0

    def _spawn(
        self, work: Callable[[], Awaitable[None]], name: str, *, reports_recovery: bool = False
    ) -> None:
        # Under the supervisor: a task that raises is logged once, started again, and its health shown.
        self._tasks.append(self.supervisor.spawn(name, work, reports_recovery=reports_recovery))

    def _enqueued(self) -> None:
        """After a change that pages commits: send now, and page a new escalation's first step."""
        self.outbox.wake()
        escalator: Escalator | None = getattr(self, "escalator", None)
        if escalator is not None:
            escalator.wake()

    async def _gauges(self) -> None:
        while True:
            await self.clock.sleep(2.0)
            await self._refresh()  # a store that cannot be read shows as this stage failing

    async def _collector(self) -> None:
        """Keep full garbage collections off the event loop's critical path.

        At 10,000 checks the live objects (board, series labels, results) make an automatic
        full collection a 70-100 ms pause that finds nothing; freezing survivors every 15 s
        keeps them out of that walk. Frozen objects are still freed by reference counting;
        only cycles among them wait for the hourly unfreeze and full collection.
        """
        rounds = 0
        while True:
            await self.clock.sleep(15.0)
            rounds += 1
            if rounds % 240 == 0:
                gc.unfreeze()
                gc.collect()
            else:
                gc.collect(1)
            gc.freeze()

    async def _refresh(self) -> None:
        self.open_incidents = await self.incidents.open_count()
        self.outbox_depth = await outbox.depth(self.engine)

    async def _run_crashed(self, live: LiveRun) -> None:
        """A run the runner gave up on with an error still reaches its incident's timeline."""
        if live.request.incident_id is not None:
            text = (
                f"{live.request.actor}'s run of {live.request.procedure} failed before it ended: {live.error}"
            )
            await self.incidents.record_runbook_step(live.request.incident_id, live.request.actor, text)

    async def _held(self, entry: OutboxEntry, reason: str | None) -> None:
        await self.incidents.record_hold(entry.incident_id, self.contacts.describe(entry.channel), reason)

    async def _hold(self, entry: OutboxEntry) -> str | None:
        """Why a trigger waits: quiet (a silence, a maintenance window), or its alert flapping."""
        flaps = self.incidents.flaps
        return await self.quiet.hold(entry) or (await flaps.hold(entry) if flaps is not None else None)

    async def _delivered(self, entry: OutboxEntry, delivered: bool, error: str | None) -> None:
        if delivered:
            self.metrics.notifications_sent.labels(entry.channel).inc()
        else:
            self.metrics.notification_failures.labels(entry.channel).inc()
        # The timeline gets the delivery, the first failure and the final one — not every retry
        # of a channel that stays down for an hour.
        if delivered or entry.status is not OutboxStatus.PENDING or entry.attempts <= 1:
            retrying = " (will retry)" if not delivered and entry.status is OutboxStatus.PENDING else ""
            await self.incidents.record_delivery(
                entry.incident_id,
                self.contacts.describe(entry.channel),
                entry.event,
                f"{error}{retrying}" if error else None,
            )
