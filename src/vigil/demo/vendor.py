"""The demo's vendor: an Atlassian Statuspage page, served by the target at ``/vendor``, for the
demo stack's ``statuspage`` check.

``GET /vendor/api/v2/summary.json`` answers the document a real page answers: all operational,
or, under the ``vendor_outage`` chaos mode, indicator ``major`` with the "API" component in
``major_outage`` and an open incident saying so.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vigil.demo.chaos import Chaos

PAGE_ID = "demovendor0001"
UPDATED_AT = "2026-01-05T09:00:00.000Z"
OUTAGE_TITLE = "Elevated error rates on the API"
# (id, name) of each component on the page.
COMPONENTS = (("cmp-api", "API"), ("cmp-dashboard", "Dashboard"), ("cmp-webhooks", "Webhooks"))


def vendor_router(chaos: Chaos) -> APIRouter:
    router = APIRouter(prefix="/vendor")

    @router.get("/api/v2/summary.json", summary="The demo vendor's Statuspage summary")
    async def summary() -> dict[str, Any]:
        return summary_document(outage=chaos.vendor_outage)

    return router


def summary_document(*, outage: bool) -> dict[str, Any]:
    """The page's ``summary.json``: every component operational, or the API down under an incident."""
    down = {"cmp-api"} if outage else set()
    components = [
        _component(position, cid, name, "major_outage" if cid in down else "operational")
        for position, (cid, name) in enumerate(COMPONENTS, start=1)
    ]
    status = (
        {"indicator": "major", "description": "Partial System Outage"}
        if outage
        else {"indicator": "none", "description": "All Systems Operational"}
    )
    return {
        "page": {
            "id": PAGE_ID,
            "name": "Demo Vendor",
            "url": "http://vendor.invalid",
            "time_zone": "Etc/UTC",
            "updated_at": UPDATED_AT,
        },
        "components": components,
        "incidents": [_incident([c for c in components if c["id"] in down])] if outage else [],
        "scheduled_maintenances": [],
        "status": status,
    }


def _component(position: int, cid: str, name: str, status: str) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "status": status,
        "created_at": UPDATED_AT,
        "updated_at": UPDATED_AT,
        "position": position,
        "description": None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": PAGE_ID,
        "group": False,
        "only_show_if_degraded": False,
    }


def _incident(components: list[dict[str, Any]]) -> dict[str, Any]:
    body = "We are investigating elevated error rates on the API."
    update = {
        "id": "upd-demo-1",
        "status": "investigating",
        "body": body,
        "incident_id": "inc-demo-1",
        "created_at": UPDATED_AT,
        "updated_at": UPDATED_AT,
        "display_at": UPDATED_AT,
        "affected_components": [
            {"code": c["id"], "name": c["name"], "old_status": "operational", "new_status": c["status"]}
            for c in components
        ],
    }
    return {
        "id": "inc-demo-1",
        "name": OUTAGE_TITLE,
        "status": "investigating",
        "created_at": UPDATED_AT,
        "updated_at": UPDATED_AT,
        "monitoring_at": None,
        "resolved_at": None,
        "impact": "major",
        "shortlink": "http://vendor.invalid/incidents/inc-demo-1",
        "started_at": UPDATED_AT,
        "page_id": PAGE_ID,
        "incident_updates": [update],
        "components": components,
    }
