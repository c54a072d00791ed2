"""The status board and the incidents summed up for the dashboard: what a person should see
first, in a bounded number of rows however many checks are configured.

A page listing 10,000 checks is slow to render and useless to read. The overview shows every
service's counts and at most ``PER_SERVICE`` of its checks, failing and pending ones first,
within a row budget for the whole page; the service page lists every check a page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vigil.engine.board import CheckStatus
from vigil.incidents.model import Incident
from vigil.incidents.service import IncidentService
from vigil.server.runtime import Runtime
from vigil.server.views import check_view

STATES = ("failing", "pending", "ok")  # the order a responder wants to read them in
PER_SERVICE = 20
ROW_BUDGET = 200
SERVICES_SHOWN = 200
PAGE_SIZE = 100
OPEN_SHOWN = 50
RESOLVED_SHOWN = 5


@dataclass(frozen=True)
class ServiceSummary:
    name: str
    description: str | None
    state: str
    counts: dict[str, int]
    checks: list[dict[str, Any]]  # the rows shown, as ``views.check_view`` makes them

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def hidden(self) -> int:
        return self.total - len(self.checks)


@dataclass(frozen=True)
class Overview:
    counts: dict[str, int]
    services: list[ServiceSummary]
    more_services: int  # services left off the overview, all listed on /services


@dataclass(frozen=True)
class Page:
    number: int
    pages: int
    total: int

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def overview(
    runtime: Runtime,
    *,
    per_service: int = PER_SERVICE,
    row_budget: int = ROW_BUDGET,
    services_shown: int = SERVICES_SHOWN,
) -> Overview:
    """Services in the order failing, pending, ok (file order within each), with their checks in
    the same order; the row budget goes to failing checks first, then pending, then passing."""
    now = runtime.clock.now()
    totals = dict.fromkeys(STATES, 0)
    grouped = []
    for name, service in runtime.stack.model.services.items():
        buckets = _by_state(runtime.board.services.get(name, []))
        for state in STATES:
            totals[state] += len(buckets[state])
        grouped.append((name, service.description, buckets))
    grouped.sort(key=lambda g: STATES.index(_state(g[2])))
    listed = grouped[:services_shown]
    shown: dict[str, list[CheckStatus]] = {name: [] for name, _, _ in listed}
    budget = row_budget
    # Failing checks everywhere are worth more rows than passing ones anywhere: spend the
    # budget state by state across all services.
    for state in STATES:
        for name, _, buckets in listed:
            room = min(per_service - len(shown[name]), budget)
            taken = buckets[state][: max(0, room)]
            shown[name].extend(taken)
            budget -= len(taken)
    summaries = [
        _summary(
            name, description, buckets, [check_view(s, now, runtime.stack.redactor) for s in shown[name]]
        )
        for name, description, buckets in listed
    ]
    return Overview(totals, summaries, max(0, len(grouped) - services_shown))


def service_page(
    runtime: Runtime, name: str, page: int, size: int = PAGE_SIZE
) -> tuple[ServiceSummary, Page]:
    """One service with one page of its checks, failing first. ``KeyError`` for no such service."""
    service = runtime.stack.model.services[name]
    buckets = _by_state(runtime.board.services.get(name, []))
    ordered = [s for state in STATES for s in buckets[state]]
    where = _page(page, len(ordered), size)
    start = (where.number - 1) * size
    now = runtime.clock.now()
    rows = [check_view(s, now, runtime.stack.redactor) for s in ordered[start : start + size]]
    return _summary(name, service.description, buckets, rows), where


def service_index(runtime: Runtime, page: int, size: int = PAGE_SIZE) -> tuple[list[ServiceSummary], Page]:
    """Every service's counts, a page at a time, in the overview's order."""
    grouped = [
        (name, service.description, _by_state(runtime.board.services.get(name, [])))
        for name, service in runtime.stack.model.services.items()
    ]
    grouped.sort(key=lambda g: STATES.index(_state(g[2])))
    where = _page(page, len(grouped), size)
    start = (where.number - 1) * size
    return [_summary(n, d, b, []) for n, d, b in grouped[start : start + size]], where


@dataclass(frozen=True)
class IncidentBoard:
    open: list[Incident]
    open_total: int
    resolved: list[Incident]


async def incident_board(incidents: IncidentService) -> IncidentBoard:
    """The newest open incidents, worst severity first, then the last few resolved ones; one
    query while fewer than ``OPEN_SHOWN`` are open."""
    latest = await incidents.list(limit=OPEN_SHOWN + RESOLVED_SHOWN)
    rank = incidents.stack.scheme.rank
    opened = sorted(
        (i for i in latest if i.is_open), key=lambda i: (rank(i.severity), -i.opened_at.timestamp())
    )
    shown = opened[:OPEN_SHOWN]
    total = len(opened) if len(opened) < OPEN_SHOWN else await incidents.open_count()
    return IncidentBoard(shown, total, [i for i in latest if not i.is_open][:RESOLVED_SHOWN])


def _by_state(statuses: list[CheckStatus]) -> dict[str, list[CheckStatus]]:
    buckets: dict[str, list[CheckStatus]] = {state: [] for state in STATES}
    for status in statuses:
        # ``CheckStatus.state``'s rule, read inline: this loop runs over every check per summary.
        last = status.last
        buckets["pending" if last is None else "ok" if last.ok else "failing"].append(status)
    return buckets


def _state(buckets: dict[str, list[CheckStatus]]) -> str:
    # The same rule as ``StatusBoard.service_state``: any failing check fails the service.
    if buckets["failing"]:
        return "failing"
    if buckets["pending"]:
        return "pending"
    return "ok"


def _summary(
    name: str, description: str | None, buckets: dict[str, list[CheckStatus]], rows: list[dict[str, Any]]
) -> ServiceSummary:
    counts = {state: len(buckets[state]) for state in STATES}
    return ServiceSummary(name, description, _state(buckets), counts, rows)


def _page(number: int, total: int, size: int) -> Page:
    pages = max(1, -(-total // size))
    return Page(min(max(1, number), pages), pages, total)
