"""The dashboard's pages with graphs: a check's (``/checks/{id}``), the rule list (``/rules``) and
a rule's (``/rules/{name}``); the incident page draws its own from ``incident.html``.

The graph itself is drawn in the browser (``static/graphs.js``, uPlot) from ``/api/v1/graphs``;
each page also carries the same data summed up in a table, which is all it shows without JS.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from vigil.errors import NotFoundError
from vigil.server.graph_views import (
    MAX_CHECK_HOURS,
    MAX_RULE_HOURS,
    check_graph_of,
    rule_graph_of,
    rule_named,
)
from vigil.server.ui_auth import Page, page, refuse, runtime_of
from vigil.server.views import check_view
from vigil.store.ping_log import recent_pings

router = APIRouter(include_in_schema=False)
# The windows offered on a page: hours and how they read.
CHECK_SPANS = ((1, "1 h"), (6, "6 h"), (24, "1 day"), (168, "7 days"), (720, "30 days"))
RULE_SPANS = ((1, "1 h"), (3, "3 h"), (6, "6 h"), (12, "12 h"), (24, "1 day"))
PINGS_SHOWN = 20  # a heartbeat's last pings, with what each job posted


@router.get("/checks/{check_id}", dependencies=[Page])
async def check_page(
    request: Request, check_id: str, hours: Annotated[int, Query(ge=1, le=MAX_CHECK_HOURS)] = 1
) -> Response:
    runtime = runtime_of(request)
    status = runtime.board.checks.get(check_id[:1000])
    if status is None:
        return refuse(request, 404, f"no check {check_id[:200]!r}; checks are addressed as service.check")
    graph = await check_graph_of(runtime, check_id, hours)
    now = runtime.clock.now()
    check = check_view(status, now, runtime.stack.redactor)
    heartbeat = check["kind"] == "heartbeat"
    return page(
        request,
        "check.html",
        check=check,
        pings=await recent_pings(runtime.engine, check_id, PINGS_SHOWN) if heartbeat else None,
        now=now,
        graph=graph,
        data_url=f"/api/v1/graphs/checks/{quote(check_id, safe='')}?hours={hours}",
        hours=hours,
        spans=CHECK_SPANS,
    )


@router.get("/rules", dependencies=[Page])
async def rules_page(request: Request) -> Response:
    runtime = runtime_of(request)
    states = Counter((alert.rule, str(alert.state)) for alert in runtime.rules.alerts())
    rules = [
        {
            "name": rule.name,
            "expr": rule.expr,
            "for": rule.for_,
            "severity": rule.severity or rule.labels.get("severity") or "",
            "firing": states[(rule.name, "firing")],
            "pending": states[(rule.name, "pending")],
        }
        for rule in runtime.stack.model.alerts
    ]
    return page(request, "rules.html", rules=rules, remote=bool(runtime.stack.model.prometheus))


@router.get("/rules/{name}", dependencies=[Page])
async def rule_page(
    request: Request, name: str, hours: Annotated[int, Query(ge=1, le=MAX_RULE_HOURS)] = 3
) -> Response:
    runtime = runtime_of(request)
    try:
        rule = rule_named(runtime, name[:200])
    except NotFoundError as err:
        return refuse(request, 404, str(err), "/rules")
    graph = await rule_graph_of(runtime, rule.name, hours)
    return page(
        request,
        "rule.html",
        rule=rule,
        threshold=graph.threshold,
        alerts=[a for a in runtime.rules.alerts() if a.rule == rule.name],
        graph=graph,
        data_url=f"/api/v1/graphs/rules/{quote(rule.name, safe='')}?hours={hours}",
        hours=hours,
        spans=RULE_SPANS,
        remote=bool(runtime.stack.model.prometheus),
    )
