"""The ``statuspage`` probe against recorded ``summary.json`` documents served from a local server.

Vendors' status pages cannot be reached from the test machine, so the documents in
``tests/probes/standins/statuspage/`` (of the shape Atlassian Statuspage serves at
``/api/v2/summary.json``: an OpenAI-like page all operational, in a major outage with an open
incident, with one degraded component, and an HTML page in place of JSON) are served by an
aiohttp app on 127.0.0.1, one page per path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from tests.probes.standins import served
from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes.base import Result
from vigil.probes.statuspage import BODY_LIMIT, StatuspageCheck

RECORDED = Path(__file__).parent / "standins" / "statuspage"
Observe = Callable[..., Awaitable[Result]]


def make_app(requested: list[str]) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        requested.append(request.path)
        name = request.match_info["page"]
        if name == "huge":
            return web.Response(body=b"{" + b" " * (BODY_LIMIT + 10) + b"}", content_type="application/json")
        if name == "garbage":
            return web.Response(body=b"\x00\xff{not json", content_type="application/json")
        if name == "empty":
            return web.json_response({"page": {"name": "Empty"}, "status": {}})
        if name == "odd":
            return web.json_response({"status": {"indicator": "purple", "description": "?"}})
        if name == "gone":
            return web.Response(status=404, text="Not found")
        found = next(RECORDED.glob(f"{name}.*"), None)
        if found is None:
            raise web.HTTPNotFound()
        kind = "text/html" if found.suffix == ".html" else "application/json"
        return web.Response(body=found.read_bytes(), content_type=kind)

    app = web.Application()
    app.router.add_get("/{page}/api/v2/summary.json", page)
    return app


@pytest.fixture
def requested() -> list[str]:
    return []


@pytest.fixture
async def base(requested: list[str]) -> AsyncIterator[str]:
    async with served(make_app(requested)) as url:
        yield url


@pytest.fixture
def observe(runner: CheckRunner, base: str) -> Observe:
    async def run(page: str, **fields: Any) -> Result:
        check = StatuspageCheck.model_validate({"statuspage": f"{base}/{page}", **fields})
        return await runner.run(CheckSpec("openai", "status", check))

    return run


async def test_an_operational_page_passes_with_its_numbers(observe: Observe) -> None:
    result = await observe("operational")

    assert result.ok, result.reason
    assert result.values == {"indicator": 0, "incidents": 0}


async def test_an_outage_names_the_vendors_incident_and_the_hurt_components(observe: Observe) -> None:
    result = await observe("major_outage")

    assert not result.ok
    assert result.reason == (
        "Partial System Outage (indicator major); APIs major outage, Chat Completions major outage, "
        "Responses partial outage, 2 more; "
        'incident "Elevated error rates across ChatGPT and the API" (investigating)'
    )
    assert result.values == {"indicator": 2, "incidents": 1}


async def test_named_components_are_judged_and_kept_as_values(observe: Observe) -> None:
    result = await observe("major_outage", components=["Chat Completions", "sora"])

    assert result.reason == (
        'Chat Completions major outage; incident "Elevated error rates across ChatGPT and the API" '
        "(investigating)"
    )
    assert result.values["component.chat_completions"] == 3
    assert result.values["component.sora"] == 0


async def test_an_outage_elsewhere_on_the_page_passes_a_check_of_other_components(observe: Observe) -> None:
    result = await observe("major_outage", components=["Sora", "Embeddings"])

    assert result.ok, result.reason
    assert result.values["indicator"] == 2


async def test_a_degraded_component_fails_with_the_incident_about_it(observe: Observe) -> None:
    result = await observe("degraded", components=["Embeddings"])

    assert (
        result.reason
        == 'Embeddings degraded performance; incident "Increased latency for Embeddings" (identified)'
    )
    assert result.values["component.embeddings"] == 1


async def test_a_maintenance_not_yet_started_is_not_named(observe: Observe) -> None:
    result = await observe("degraded")

    assert result.reason is not None
    assert "Database upgrade" not in result.reason
    assert result.reason.startswith("Minor Service Outage (indicator minor); APIs degraded performance")


async def test_a_component_not_on_the_page_is_named_with_the_closest(observe: Observe) -> None:
    result = await observe("operational", components=["Chat Completion", "Telepathy"])

    assert result.reason == (
        "component 'Chat Completion' is not on the page (did you mean Chat Completions?); "
        "component 'Telepathy' is not on the page"
    )


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (
            "not_json",
            "answered HTML, expected JSON; it starts '<!DOCTYPE html> <html lang=\"en\"><head...'",
        ),
        ("garbage", "answered something that is not JSON"),
        ("empty", "has no status.indicator: not an Atlassian Statuspage summary"),
        ("odd", "gives indicator 'purple', not one Statuspage uses"),
        ("gone", "answered 404, expected 200; is it a Statuspage page?"),
        ("huge", "answered more than 2048 KiB; is it the right address?"),
    ],
)
async def test_an_answer_that_is_not_a_summary_fails_with_one_reason(
    observe: Observe, base: str, page: str, reason: str
) -> None:
    result = await observe(page)

    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith(f"{base}/{page}/api/v2/summary.json ")
    assert reason in result.reason
    assert "\n" not in result.reason


@pytest.mark.parametrize(
    "given",
    ["{base}/operational", "{base}/operational/", "{base}/operational/api/v2/status.json",
     "{base}/operational/api/v2/summary.json"],
)  # fmt: skip
async def test_the_page_may_be_given_by_its_address_or_its_api(
    runner: CheckRunner, base: str, requested: list[str], given: str
) -> None:
    check = StatuspageCheck.model_validate({"statuspage": given.format(base=base)})

    assert (await runner.run(CheckSpec("openai", "status", check))).ok
    assert requested == ["/operational/api/v2/summary.json"]


def test_a_vendor_page_is_read_every_five_minutes_unless_told() -> None:
    assert StatuspageCheck.model_validate({"statuspage": "https://status.openai.com"}).every == 300


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"statuspage": "status.openai.com"}, "expected an http:// or https:// URL"),
        ({"statuspage": "https://s", "components": [" "]}, "must be 1 to 200 characters"),
        ({"statuspage": "https://s", "components": ["x"] * 51}, "at most 50"),
    ],
)
def test_a_check_that_cannot_work_is_refused_when_read(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StatuspageCheck.model_validate(fields)
