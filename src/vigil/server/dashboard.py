"""The dashboard at ``/``: Jinja2 pages and htmx fragments over the status board and the
incident service. No build step and no JavaScript of our own: htmx polls the fragments every
2 s and posts the action forms; without JavaScript the same forms work as plain posts.

Routes stay thin: ``summary`` decides what to show, ``ui_auth`` who may act, the incident
service what an action does. Every page and fragment needs a signed-in viewer unless the
stack file says ``server: {public_read: true}``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from vigil.errors import NotFoundError
from vigil.incidents.reads import OPEN
from vigil.incidents.service import IncidentService
from vigil.server import summary, templating, ui_auth
from vigil.server.graph_views import incident_source
from vigil.server.incident_cache import incident_cache
from vigil.server.runbook_views import incident_view, review_view
from vigil.server.tokens import Principal
from vigil.server.ui_auth import Page, act, page, refuse, runtime_of

router = APIRouter(include_in_schema=False)
View = Annotated[Literal["overview", "incident"], Form()]
PageNumber = Annotated[int, Query(alias="page")]


def install(app: FastAPI) -> None:
    """Add the dashboard's routes and its static files (htmx, the stylesheet) to ``app``."""
    from vigil.server import backup_pages, graph_pages, incident_pages  # they use this module's helpers

    app.include_router(router)
    app.include_router(incident_pages.router)
    app.include_router(graph_pages.router)
    app.include_router(backup_pages.router)
    ui_auth.install(app)
    app.mount("/static", StaticFiles(directory=templating.STATIC), name="static")


def services_section(request: Request) -> templating.Cached[tuple[summary.Overview, str]]:
    """The services section, summed up and rendered at most once a second for everyone."""
    cache: templating.Cached[tuple[summary.Overview, str]] | None = getattr(
        request.app.state, "dashboard_services", None
    )
    if cache is None:
        runtime = runtime_of(request)

        def build() -> tuple[summary.Overview, str]:
            overview = summary.overview(runtime)
            return overview, templating.render("partials/_services.html", overview=overview)

        cache = request.app.state.dashboard_services = templating.Cached(build)
    return cache


# Stands for the visitor's CSRF token in the incidents section rendered once for everyone;
# secret, so no incident text can contain it and have a visitor's token put in its place.
CSRF_MARK = secrets.token_hex(16)


async def incidents_section(request: Request, *, oob: bool) -> tuple[summary.IncidentBoard, str]:
    """The incidents section, read and rendered at most once a second for everyone: its 50
    rows of forms cost more to render than the rest of the page. Its forms carry
    ``CSRF_MARK``; the page template puts each visitor's token in its place."""
    board = await incident_cache(request.app.state, runtime_of(request).incidents).board()
    kept: tuple[summary.IncidentBoard, dict[bool, str]] | None = getattr(
        request.app.state, "dashboard_incidents", None
    )
    if kept is None or kept[0] is not board:
        kept = request.app.state.dashboard_incidents = (board, {})
    if oob not in kept[1]:
        counts = services_section(request).get()[0].counts
        kept[1][oob] = templating.render(
            "partials/_incidents.html",
            board=board,
            counts=counts,
            now=runtime_of(request).clock.now(),
            csrf=CSRF_MARK,
            scheme=runtime_of(request).stack.model.scheme,
            oob=oob,
            clear_flash=False,
        )
    return board, kept[1][oob]


# --- pages and the fragments they poll -------------------------------------------------


@router.get("/", dependencies=[Page])
async def overview(request: Request) -> Response:
    board, incidents_html = await incidents_section(request, oob=False)
    services, services_html = services_section(request).get()
    return page(
        request,
        "overview.html",
        review=review_view(runtime_of(request)),
        board=board,
        counts=services.counts,
        incidents_html=incidents_html,
        csrf_mark=CSRF_MARK,
        services_html=services_html,
        oob=False,
    )


@router.get("/fragments/incidents", dependencies=[Page])
async def incidents_fragment(request: Request) -> Response:
    return await _incidents(request)


@router.get("/fragments/services", dependencies=[Page])
async def services_fragment(request: Request) -> Response:
    return templating.html(services_section(request).get()[1])


@router.get("/incidents/{incident_id}", dependencies=[Page])
async def incident_page(request: Request, incident_id: int) -> Response:
    return await _incident(request, incident_id, "incident.html")


@router.get("/fragments/incidents/{incident_id}", dependencies=[Page])
async def incident_fragment(request: Request, incident_id: int) -> Response:
    return await _incident(request, incident_id, "partials/_incident_live.html")


@router.get("/services", dependencies=[Page])
async def services_page(request: Request, page_number: PageNumber = 1) -> Response:
    services, where = summary.service_index(runtime_of(request), page_number)
    return page(request, "services.html", services=services, where=where)


@router.get("/services/{name}", dependencies=[Page])
async def service_page(request: Request, name: str, page_number: PageNumber = 1) -> Response:
    runtime = runtime_of(request)
    if name not in runtime.stack.model.services:
        return refuse(request, 404, f"no service {name!r} in {runtime.stack.file}")
    service, where = summary.service_page(runtime, name, page_number)
    incidents = await runtime.incidents.list(status=OPEN, service=name, limit=summary.OPEN_SHOWN)
    return page(
        request, "service.html", service=service, where=where, incidents=incidents, now=runtime.clock.now()
    )


# --- actions ---------------------------------------------------------------------------


IncidentAction = Callable[[IncidentService, Principal], Awaitable[object]]


async def on_incident(request: Request, incident_id: int, view: str, action: IncidentAction) -> Response:
    """The shape of every incident form: ``action`` on the incident service for the signed-in
    responder (``ui_auth.act``: CSRF, role, a refusal as the page's message), then the section
    it was made from, fresh."""

    async def run(who: Principal) -> object:
        return await action(runtime_of(request).incidents, who)

    return await act(request, run, _after(request, incident_id, view), _back(incident_id, view))


@router.post("/incidents/{incident_id}/acknowledge")
async def acknowledge(request: Request, incident_id: int, view: View = "overview") -> Response:
    return await on_incident(request, incident_id, view, lambda s, who: s.acknowledge(incident_id, who.name))


@router.post("/incidents/{incident_id}/resolve")
async def resolve(request: Request, incident_id: int, view: View = "overview") -> Response:
    return await on_incident(request, incident_id, view, lambda s, who: s.resolve(incident_id, who.name))


@router.post("/incidents/{incident_id}/notes")
async def add_note(request: Request, incident_id: int, text: Annotated[str, Form()] = "") -> Response:
    return await on_incident(
        request, incident_id, "incident", lambda s, who: s.add_note(incident_id, who.name, text)
    )


def _back(incident_id: int, view: str) -> str:
    return f"/incidents/{incident_id}" if view == "incident" else "/"


def _after(request: Request, incident_id: int, view: str) -> Callable[[], Awaitable[Response]]:
    """What a successful action answers: the section it was made from, freshly rendered,
    under htmx; a redirect back to the page otherwise (so a reload does not post again)."""

    async def done() -> Response:
        if not ui_auth.is_htmx(request):
            return RedirectResponse(_back(incident_id, view), status_code=303)
        if view == "incident":
            return await _incident(request, incident_id, "partials/_incident_live.html", cleared=True)
        return await _incidents(request, cleared=True)

    return done


async def _incidents(request: Request, *, cleared: bool = False) -> Response:
    # The header counts ride along (out of band), so they stay as fresh as the list.
    if not cleared:
        _, html = await incidents_section(request, oob=True)
        return page(request, "partials/_incidents_shared.html", incidents_html=html, csrf_mark=CSRF_MARK)
    runtime = runtime_of(request)
    board = await incident_cache(request.app.state, runtime.incidents).board()  # read after the action
    counts = services_section(request).get()[0].counts
    return page(
        request,
        "partials/_incidents.html",
        board=board,
        counts=counts,
        now=runtime.clock.now(),
        oob=True,
        clear_flash=cleared,
    )


async def _incident(request: Request, incident_id: int, template: str, *, cleared: bool = False) -> Response:
    runtime = runtime_of(request)
    try:
        view = await incident_view(runtime, incident_id)
    except NotFoundError as err:
        return refuse(request, 404, str(err))
    return page(
        request,
        template,
        incident=view.incident,
        timeline=view.timeline,
        escalation=view.escalation,
        runbooks=view.runbooks,
        checklist=view.checklist,
        merged=view.merged,
        level=view.level,
        levels=runtime.stack.model.scheme.levels,
        has_runbooks=bool(runtime.library.runbooks),
        now=runtime.clock.now(),
        clear_flash=cleared,
        graph_source=incident_source(runtime, view.incident),
    )
