"""The dashboard over a real SQLite store: pages, fragments, sign-in, CSRF and actions."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import sqlite_store_url
from vigil.config.load import Stack, parse_stack
from vigil.config.secrets import Redactor
from vigil.config.stack import StackFile
from vigil.engine.clock import FakeClock
from vigil.incidents.model import Incident
from vigil.probes.base import Result
from vigil.server import dashboard, summary
from vigil.server.app import create_app
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_token
from vigil.store.database import open_database

# Reading is open here (the tests sign in only to act); test_private.py reads signed in.
STACK = """
server: {public_read: true}
notify:
  channels:
    log: {log: true}
  default: [log]
services:
  api:
    description: The public API
    checks:
      health:
        http: http://127.0.0.1:9/health
        alert: {after: 1, severity: P1}
      ready:
        http: http://127.0.0.1:9/ready
  worker:
    checks:
      queue:
        tcp: 127.0.0.1:9
"""

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(await sqlite_store_url(tmp_path / "vigil.db"))
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def runtime(engine: AsyncEngine, clock: FakeClock) -> Runtime:
    runtime = Runtime(parse_stack("vigil.yaml", STACK, {}), engine, clock=clock)
    await runtime.failures.load()
    return runtime


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, manage_runtime=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://vigil.test"
    ) as client:
        yield client


def record(runtime: Runtime, check_id: str, ok: bool, ms: float = 12.0, reason: str | None = None) -> Result:
    result = Result(
        check_id, ok, ms, runtime.clock.now(), None if ok else reason or "status 500, expected 200"
    )
    runtime.board.record(result)
    return result


async def open_incident(runtime: Runtime, reason: str = "status 500, expected 200") -> Incident:
    spec = next(s for s in runtime.specs if s.id == "api.health")
    incident = await runtime.incidents.open_for_check(spec, record(runtime, spec.id, False, reason=reason), 1)
    assert incident is not None
    return incident


async def sign_in(client: httpx.AsyncClient, runtime: Runtime, role: Role = Role.RESPONDER) -> str:
    """Signs in through the login form as ``alice``; returns the CSRF token the pages carry."""
    token = await create_token(runtime.engine, runtime.clock, "alice", role)
    csrf = csrf_of(await client.get("/login"))
    answer = await client.post("/login", data={"token": token, "csrf": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    return csrf_of(await client.get("/"))


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token a page's forms carry (an HMAC of the session, so never in a readable cookie)."""
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, "no CSRF field on the page"
    return found.group(1)


def set_cookie(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


# --- reading ---------------------------------------------------------------------------


async def test_the_overview_shows_open_incidents_before_the_services_and_their_checks(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await open_incident(runtime)
    record(runtime, "api.ready", True)
    page = (await client.get("/")).text
    assert page.index('id="incidents"') < page.index('id="services"')
    assert "api.health is failing" in page
    assert '<span class="sev p1">P1</span>' in page
    for check in ("api.health", "api.ready", "worker.queue"):
        assert f'<td class="id"><a href="/checks/{check}">{check}</a></td>' in page
    assert "The public API" in page
    assert re.search(r"<b>1</b> failing.*<b>1</b> pending.*<b>1</b> ok.*<b>1</b> open incident", page, re.S)


async def test_a_check_row_carries_a_latency_sparkline_drawn_as_inline_svg(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    for ms in (10.0, 40.0, 20.0):
        record(runtime, "api.ready", True, ms)
    page = (await client.get("/fragments/services")).text
    svg = re.search(r'<svg class="spark".*?</svg>', page[page.index("api.ready") :], re.S)
    assert svg is not None
    assert "latency of the last 3 runs" in svg.group()
    assert '<polyline points="0.0,17.5 60.0,1.0 120.0,12.0"/>' in svg.group()
    assert "100 %" in page  # uptime over the last 24 h


async def test_untrusted_reason_text_is_shown_escaped_never_as_markup(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await open_incident(runtime, reason='<script>alert("x")</script> status 500')
    for path in ("/", "/fragments/incidents", "/fragments/services", "/incidents/1"):
        page = (await client.get(path)).text
        assert "<script>alert" not in page, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; status 500" in page, path


async def test_the_sections_poll_their_fragments_every_two_seconds_with_local_htmx_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    page = (await client.get("/")).text
    assert 'hx-get="/fragments/incidents" hx-trigger="every 2s"' in page
    assert 'hx-get="/fragments/services" hx-trigger="every 2s"' in page
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/htmx.min.js" defer>',
        '<script src="/static/runbook.js" defer>',
    ]
    htmx = await client.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:2000]
    fragment = (await client.get("/fragments/incidents")).text
    assert fragment.startswith('<section id="incidents"')
    assert 'id="counts" class="counts" hx-swap-oob="true"' in fragment


async def test_pages_forbid_framing_and_outside_scripts(client: httpx.AsyncClient) -> None:
    policy = (await client.get("/")).headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


async def test_the_incident_page_shows_the_timeline_and_the_action_forms(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    page = (await client.get(f"/incidents/{incident.id}")).text
    assert "api.health failed 1 time in a row: status 500, expected 200" in page
    assert f'action="/incidents/{incident.id}/acknowledge"' in page
    assert f'action="/incidents/{incident.id}/resolve"' in page
    assert f'action="/incidents/{incident.id}/notes"' in page


async def test_an_unknown_incident_is_a_404_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/incidents/4242")
    assert answer.status_code == 404
    assert "no incident 4242" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


async def test_the_service_page_lists_every_check_a_page_at_a_time(client: httpx.AsyncClient) -> None:
    page = (await client.get("/services/api")).text
    assert '<td class="id"><a href="/checks/api.health">api.health</a></td>' in page
    assert "worker.queue" not in page
    assert (await client.get("/services/nope")).status_code == 404


# --- signing in --------------------------------------------------------------------------


async def test_signing_in_sets_httponly_strict_token_and_session_cookies(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = await create_token(runtime.engine, runtime.clock, "alice", Role.RESPONDER)
    csrf = csrf_of(await client.get("/login"))
    answer = await client.post("/login", data={"token": token, "csrf": csrf})
    assert answer.status_code == 303
    token_cookie = set_cookie(answer, "vigil_token").lower()
    assert "httponly" in token_cookie
    assert "samesite=strict" in token_cookie
    assert "secure" not in token_cookie  # plain http: a Secure cookie would never come back
    # The CSRF token derives from the session; no script needs to read either cookie.
    session_cookie = set_cookie(answer, "vigil_session").lower()
    assert "httponly" in session_cookie
    assert "samesite=strict" in session_cookie


async def test_cookies_are_secure_when_the_dashboard_is_served_over_https(runtime: Runtime) -> None:
    token = await create_token(runtime.engine, runtime.clock, "alice", Role.RESPONDER)
    transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://vigil.test") as client:
        csrf = csrf_of(await client.get("/login"))
        answer = await client.post("/login", data={"token": token, "csrf": csrf})
    assert "secure" in set_cookie(answer, "vigil_token").lower()


async def test_signing_in_with_an_unknown_token_says_so_and_sets_no_cookie(client: httpx.AsyncClient) -> None:
    csrf = csrf_of(await client.get("/login"))
    answer = await client.post("/login", data={"token": "vgl_nope", "csrf": csrf})
    assert answer.status_code == 401
    assert "unknown or revoked" in answer.text
    assert "vigil_token" not in client.cookies


async def test_signing_out_forgets_the_token(client: httpx.AsyncClient, runtime: Runtime) -> None:
    csrf = await sign_in(client, runtime)
    answer = await client.post("/logout", data={"csrf": csrf})
    assert answer.status_code == 303
    assert "vigil_token" not in client.cookies


# --- acting ----------------------------------------------------------------------------


async def test_a_responder_acknowledges_from_the_overview_and_gets_the_fresh_section(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    csrf = await sign_in(client, runtime)
    answer = await client.post(
        f"/incidents/{incident.id}/acknowledge", data={"csrf": csrf, "view": "overview"}, headers=HTMX
    )
    assert answer.status_code == 200
    assert answer.text.startswith('<section id="incidents"')
    assert '<span class="status acknowledged">acknowledged</span>' in answer.text
    assert (await runtime.incidents.get(incident.id)).acknowledged_by == "alice"


async def test_the_csrf_token_may_come_in_the_htmx_header_instead_of_the_form(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    csrf = await sign_in(client, runtime)
    answer = await client.post(f"/incidents/{incident.id}/resolve", headers={**HTMX, "X-CSRF-Token": csrf})
    assert answer.status_code == 200
    assert not (await runtime.incidents.get(incident.id)).is_open


async def test_a_plain_form_post_redirects_back_to_the_incident_page(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    csrf = await sign_in(client, runtime)
    answer = await client.post(f"/incidents/{incident.id}/resolve", data={"csrf": csrf, "view": "incident"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/incidents/{incident.id}"
    assert (await runtime.incidents.get(incident.id)).resolved_by == "alice"


async def test_a_note_goes_on_the_timeline_under_the_responders_name(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    csrf = await sign_in(client, runtime)
    answer = await client.post(
        f"/incidents/{incident.id}/notes", data={"csrf": csrf, "text": "restarted the pod"}
    )
    assert answer.status_code == 303
    notes = [(e.actor, e.text) for e in await runtime.incidents.timeline(incident.id) if e.kind == "note"]
    assert notes == [("alice", "restarted the pod")]
    empty = await client.post(f"/incidents/{incident.id}/notes", data={"csrf": csrf, "text": "  "})
    assert empty.status_code == 422
    assert "a note needs some text" in empty.text


@pytest.mark.parametrize("csrf", [None, "x" * 43], ids=["missing", "not the session's HMAC"])
async def test_an_action_without_the_matching_csrf_token_is_refused_with_403(
    client: httpx.AsyncClient, runtime: Runtime, csrf: str | None
) -> None:
    incident = await open_incident(runtime)
    await sign_in(client, runtime)
    data = {"csrf": csrf} if csrf else {}
    answer = await client.post(f"/incidents/{incident.id}/acknowledge", data=data)
    assert answer.status_code == 403
    assert "CSRF check failed" in answer.text
    assert (await runtime.incidents.get(incident.id)).status == "triggered"


async def test_an_action_without_signing_in_leads_to_the_login_page(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    csrf = csrf_of(await client.get("/"))
    plain = await client.post(f"/incidents/{incident.id}/acknowledge", data={"csrf": csrf})
    assert plain.status_code == 303
    assert plain.headers["location"] == "/login?reason=needed"
    htmx = await client.post(f"/incidents/{incident.id}/acknowledge", data={"csrf": csrf}, headers=HTMX)
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"] == "/login?reason=needed"
    assert "need a responder token" in (await client.get("/login?reason=needed")).text


async def test_a_viewer_may_read_but_acting_is_refused_with_a_message(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    csrf = await sign_in(client, runtime, Role.VIEWER)
    answer = await client.post(f"/incidents/{incident.id}/acknowledge", data={"csrf": csrf}, headers=HTMX)
    assert answer.status_code == 403
    assert answer.headers["HX-Retarget"] == "#flash"
    assert "this needs the responder role; token &#39;alice&#39; has viewer" in answer.text


async def test_a_conflict_from_the_incident_service_is_an_inline_message_not_a_500(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    csrf = await sign_in(client, runtime)
    await runtime.incidents.resolve(incident.id, "bob")
    answer = await client.post(f"/incidents/{incident.id}/acknowledge", data={"csrf": csrf}, headers=HTMX)
    assert answer.status_code == 409
    assert answer.text.startswith('<div id="flash" class="flash error"')
    assert "only a triggered one can be acknowledged" in answer.text


async def test_acting_on_an_unknown_incident_is_a_404_message(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    csrf = await sign_in(client, runtime)
    answer = await client.post("/incidents/4242/resolve", data={"csrf": csrf})
    assert answer.status_code == 404
    assert "no incident 4242" in answer.text


# --- at scale --------------------------------------------------------------------------


def big_stack(services: int, checks: int) -> Stack:
    # Built from a dict: parsing 10,000 checks of YAML with line tracking takes seconds.
    spec: dict[str, Any] = {
        "server": {"public_read": True},
        "notify": {"channels": {"log": {"log": True}}, "default": ["log"]},
        "services": {
            f"svc{s:03d}": {
                "checks": {
                    f"c{c:03d}": {
                        "http": f"http://127.0.0.1:9/{s}/{c}",
                        "alert": {"after": 2, "severity": "P2"},
                    }
                    for c in range(checks)
                }
            }
            for s in range(services)
        },
    }
    return Stack("big.yaml", StackFile.model_validate(spec), Redactor())


async def test_the_overview_shows_failing_checks_first_and_at_most_twenty_per_service(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    runtime = Runtime(big_stack(2, 30), engine, clock=clock)
    for spec in runtime.specs:
        record(runtime, spec.id, ok=spec.id not in ("svc001.c025", "svc001.c029"))
    view = summary.overview(runtime)
    assert [s.name for s in view.services] == ["svc001", "svc000"]
    first = view.services[0]
    assert [c["id"] for c in first.checks[:3]] == ["svc001.c025", "svc001.c029", "svc001.c000"]
    assert (len(first.checks), first.hidden, first.counts) == (20, 10, {"failing": 2, "pending": 0, "ok": 28})
    service, where = summary.service_page(runtime, "svc001", page=2, size=20)
    assert (where.number, where.pages, len(service.checks)) == (2, 2, 10)


async def test_the_overview_at_10000_checks_shows_every_failing_check_but_not_every_row(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    # Speed itself is measured by bench/dashboard_load.py; this holds the shape that makes it fast.
    runtime = Runtime(big_stack(100, 100), engine, clock=clock)
    failing = set()
    for i, spec in enumerate(runtime.specs):
        ok = i % 97 != 0
        if not ok:
            failing.add(spec.id)
        runtime.board.record(Result(spec.id, ok, 5.0, clock.now(), None if ok else "down"))
    app = create_app(runtime, manage_runtime=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://vigil.test"
    ) as client:
        page = (await client.get("/")).text
    assert all(check_id in page for check_id in failing)
    rendered = sum(1 for spec in runtime.specs if f">{spec.id}<" in page)
    assert len(failing) <= rendered < 2500


# --- many clients ------------------------------------------------------------------------


@contextmanager
def incident_reads(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements that read the incidents table while inside."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM incidents" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def test_two_hundred_clients_polling_at_once_cost_the_store_a_read_or_two(
    client: httpx.AsyncClient, runtime: Runtime, engine: AsyncEngine
) -> None:
    # Issue 10: under 200 concurrent clients `/` and `/api/v1/incidents` answered ~190 requests/s
    # in all, each poll making its own reads. Every poll within a second shares one now.
    incident = await open_incident(runtime)
    paths = ["/", "/fragments/incidents", "/api/v1/incidents"] * 67
    with incident_reads(engine) as reads:
        answers = await asyncio.gather(*(client.get(path) for path in paths))
    assert all(a.status_code == 200 for a in answers)
    assert all(f"/incidents/{incident.id}" in a.text for a in answers if "api" not in str(a.url))
    assert all(a.json()[0]["id"] == incident.id for a in answers if "api" in str(a.url))
    assert len(reads) <= 4  # the board (list, maybe a count) and the API's list: once each


async def test_a_change_shows_at_once_on_the_next_read_despite_the_shared_reads(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    incident = await open_incident(runtime)
    assert (await client.get("/api/v1/incidents")).json()[0]["status"] == "triggered"
    assert "No open incidents" not in (await client.get("/")).text
    await runtime.incidents.acknowledge(incident.id, "bob")
    assert (await client.get("/api/v1/incidents")).json()[0]["status"] == "acknowledged"
    assert "taken by bob" in (await client.get("/fragments/incidents", headers=HTMX)).text
    await runtime.incidents.resolve(incident.id, "bob")
    assert "No open incidents" in (await client.get("/")).text
    assert (await client.get("/api/v1/incidents")).json()[0]["status"] == "resolved"


async def test_each_visitor_gets_their_own_csrf_token_in_the_shared_incident_rows(
    runtime: Runtime,
) -> None:
    await open_incident(runtime)
    app = create_app(runtime, manage_runtime=False)
    tokens = []
    for _ in range(2):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://vigil.test"
        ) as visitor:
            token = await sign_in(visitor, runtime)
            for path in ("/", "/fragments/incidents"):
                page = (await visitor.get(path)).text
                forms = re.findall(r'name="csrf" value="([^"]*)"', page)
                assert forms and set(forms) == {token}, path
                assert dashboard.CSRF_MARK not in page
            tokens.append(token)
    assert tokens[0] != tokens[1]
