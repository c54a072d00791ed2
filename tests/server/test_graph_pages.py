"""The dashboard's pages with graphs, as a browser without JavaScript gets them: each carries its
graph's figure (the data URL graphs.js draws from) and the same figures as a table or a line of
text; the rule list links each rule to its page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import served
from tests.server.test_graph_api import STACK, runs


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with served(tmp_path, STACK) as (client, runtime, clock):
        yield {"client": client, "runtime": runtime, "clock": clock}


async def test_a_check_page_has_its_graph_and_the_figures_as_a_table(setup: dict[str, Any]) -> None:
    await runs(setup, 10, 30.0, ms=25.0)
    page = await setup["client"].get("/checks/api.health", params={"hours": 24})
    assert page.status_code == 200
    assert 'data-graph="/api/v1/graphs/checks/api.health?hours=24"' in page.text
    assert '<script src="/static/uPlot.iife.min.js" defer></script>' in page.text
    assert "<strong>1 day</strong>" in page.text  # the window chosen, the others as links
    table = page.text.split('<details class="graph-table">', 1)[1]
    assert "latency" in table and "25" in table and "<noscript>" in page.text


async def test_a_check_page_without_runs_says_no_data_yet(setup: dict[str, Any]) -> None:
    page = await setup["client"].get("/checks/api.health")
    assert "No data yet" in page.text and "graph-table" not in page.text


async def test_the_overview_links_each_check_to_its_page(setup: dict[str, Any]) -> None:
    page = await setup["client"].get("/")
    assert '<a href="/checks/api.health">api.health</a>' in page.text
    assert '<a href="/rules">Rules</a>' in page.text
    assert "uPlot" not in page.text  # pages without graphs do not load it


async def test_the_rule_list_links_each_rule_to_its_page(setup: dict[str, Any]) -> None:
    page = await setup["client"].get("/rules")
    assert page.status_code == 200
    assert '<a href="/rules/SlowApi">SlowApi</a>' in page.text
    assert '<a href="/rules/ApiUp">ApiUp</a>' in page.text


async def test_a_rule_page_names_its_threshold_and_draws_from_the_rule_api(setup: dict[str, Any]) -> None:
    await runs(setup, 5, 30.0, ms=90.0)
    page = await setup["client"].get("/rules/SlowApi")
    assert 'data-graph="/api/v1/graphs/rules/SlowApi?hours=3"' in page.text
    assert "with the threshold &gt; 0.05 as a dashed line" in page.text
    assert 'threshold</td><td colspan="5">&gt; 0.05' in page.text
    plain = await setup["client"].get("/rules/ApiUp")
    assert "there is no threshold line" in plain.text


@pytest.mark.parametrize(
    ("path", "named"),
    [("/rules/Nope", "no alert rule &#39;Nope&#39;"), ("/checks/api.nope", "no check &#39;api.nope&#39;")],
)
async def test_an_unknown_rule_or_check_page_is_a_404_saying_so(
    setup: dict[str, Any], path: str, named: str
) -> None:
    page = await setup["client"].get(path)
    assert page.status_code == 404 and named in page.text


@pytest.mark.parametrize(("path", "hours"), [("/checks/api.health", 721), ("/rules/SlowApi", 25)])
async def test_a_page_refuses_a_window_beyond_its_bound(setup: dict[str, Any], path: str, hours: int) -> None:
    page = await setup["client"].get(path, params={"hours": hours})
    assert page.status_code == 422 and page.json()["error"]


async def test_an_incident_page_draws_the_window_of_its_check(setup: dict[str, Any]) -> None:
    await runs(setup, 3, 30.0, ok=False)
    (incident,) = await setup["runtime"].incidents.list()
    page = await setup["client"].get(f"/incidents/{incident.id}")
    assert f'data-graph="/api/v1/graphs/incidents/{incident.id}"' in page.text
    assert 'check <a href="/checks/api.health">api.health</a>' in page.text
    assert "the check&#39;s page has its figures in a table" in page.text


async def test_a_rule_vigil_cannot_evaluate_itself_says_so_instead_of_a_graph(tmp_path: Path) -> None:
    stack = """
server: {public_read: true}
prometheus: http://127.0.0.1:9
services: {}
alerts:
  - {name: Odd, expr: "nosuchfn(up) > 1"}
"""
    async with served(tmp_path, stack) as (client, _, _):
        page = await client.get("/rules/Odd")
        assert page.status_code == 200
        assert "Vigil cannot draw this expression" in page.text and "nosuchfn" in page.text
        answer = (await client.get("/api/v1/graphs/rules/Odd")).json()
        assert answer["empty"] and "nosuchfn" in answer["notes"][0]
        assert "evaluated by the stack file's Prometheus" in (await client.get("/rules")).text
