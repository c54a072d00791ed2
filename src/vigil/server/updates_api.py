"""Status updates and postmortems over HTTP: the API (``/api/v1/incidents/{id}/updates``,
``…/postmortem``) and the incident page's update form. Thin faces over ``StatusUpdates`` and
``incidents.postmortem``, as ``vigil incident update`` and ``vigil incident postmortem`` are."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from pydantic import BaseModel, Field

from vigil.errors import VigilError
from vigil.incidents import postmortem
from vigil.incidents.inputs import TEXT_LIMIT
from vigil.incidents.update_message import UpdateStatus
from vigil.incidents.updates import IMPACT_LIMIT, StatusUpdates
from vigil.server.api import Id, runtime_of
from vigil.server.api_document import CONFLICT
from vigil.server.auth import Responder
from vigil.server.tokens import Principal
from vigil.server.ui_auth import act

router = APIRouter(prefix="/api/v1", tags=["api"])
pages = APIRouter(include_in_schema=False)
MARKDOWN = "text/markdown; charset=utf-8"


class UpdateBody(BaseModel):
    status: UpdateStatus = Field(
        description="investigating, identified, monitoring or resolved (resolves it)."
    )
    text: str = Field(min_length=1, max_length=TEXT_LIMIT, description="What is new.")
    impact: str | None = Field(None, max_length=IMPACT_LIMIT, description="Who or what is affected.")


def updates_of(request: Request) -> StatusUpdates:
    """The runtime's update service, made once (its template compiled once)."""
    found: StatusUpdates | None = getattr(request.app.state, "status_updates", None)
    if found is None:
        found = request.app.state.status_updates = StatusUpdates(runtime_of(request).incidents)
    return found


@router.post(
    "/incidents/{incident_id}/updates",
    status_code=201,
    responses=CONFLICT,
    summary="Post a status update to the incident's channels; status resolved resolves it",
)
async def post_update(request: Request, incident_id: Id, who: Responder, body: UpdateBody) -> dict[str, Any]:
    update = await updates_of(request).post(incident_id, body.status, body.text, who.name, body.impact)
    return update.as_dict()


@router.get("/incidents/{incident_id}/updates", summary="The incident's status updates, oldest first")
async def list_updates(request: Request, incident_id: Id) -> list[dict[str, Any]]:
    return [u.as_dict() for u in await updates_of(request).list(incident_id)]


@router.get(
    "/incidents/{incident_id}/postmortem",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/markdown": {"schema": {"type": "string"}}}, "description": "Markdown."},
        **CONFLICT,
    },
    summary="The incident's postmortem, drafted as Markdown from its timeline, updates and runbook runs",
)
async def get_postmortem(request: Request, incident_id: Id) -> Response:
    runtime = runtime_of(request)
    drafted = await postmortem.draft(runtime.stack, runtime.incidents, incident_id)
    return PlainTextResponse(drafted.markdown, media_type=MARKDOWN)


@pages.post("/incidents/{incident_id}/updates")
async def post_update_form(
    request: Request,
    incident_id: int,
    status: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    impact: Annotated[str, Form()] = "",
) -> Response:
    """The incident page's form: posts the update, then shows the page again."""

    async def action(who: Principal) -> object:
        if status not in set(UpdateStatus):
            raise VigilError(f"choose a status: {', '.join(UpdateStatus)}")
        return await updates_of(request).post(
            incident_id, UpdateStatus(status), text, who.name, impact or None
        )

    back = f"/incidents/{incident_id}"

    async def done() -> Response:
        return RedirectResponse(back, status_code=303)

    return await act(request, action, done, back)
