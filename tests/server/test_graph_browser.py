"""The graphs in a real browser against a real ``vigil up``: a check's page draws its latency
and up (uPlot's canvas has ink on it), a rule's page draws the dashed threshold line, a backup
job's page the size and duration of its backups, and with JavaScript off the same page shows
the figures as a table.

Chromium is Debian's (``scripts/install-browser.sh``); Playwright never downloads one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import Switch, wait_until
from tests.server.test_browser import chromium, playwright_api

STACK = """
server: {{public_read: true}}  # signing in is test_browser.py's
services:
  web: {{checks: {{health: {{http: "{url}/health", every: 1s}}}}}}
alerts:
  - name: SlowWeb
    expr: vigil_check_duration_seconds{{service="web"}} > 0.5
backups:
  appdb:
    engine: sqlite
    source: app.db
    schedule: "0 0 1 1 *"  # run from the API here
    destination: backups
    keep: {{count: 5}}
"""
DRAWN = 15_000  # ms
# Seconds for ``vigil up`` to be ready: on this shared 2-core machine, with eight suites running,
# importing the app alone has taken 25 s.
STARTED = 90

# Ink on the plot's canvas: pixels that are not fully transparent.
INKED = """figure => {
  const canvas = figure.querySelector("canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  return inked;
}"""
LABELS = "figure => figure.vigilPlot.series.map(s => s.label || '')"


def drawn_runs(url: str) -> int:
    """The check's latency points in the last hour (reading is open: no token to make)."""
    answer = httpx.get(f"{url}/api/v1/graphs/checks/web.health?hours=1", timeout=5).json()
    return sum(v is not None for v in answer["lines"][0]["values"])


def three_backups(vigil: Any, source: Path) -> None:
    """Three backups of ``source`` through the API, each of more rows than the one before."""
    responder = {"Authorization": f"Bearer {vigil.token('responder')}"}
    for rows in (100, 2000, 8000):
        with sqlite3.connect(source) as conn:
            conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
        ran = httpx.post(f"{vigil.url}/api/v1/backups/appdb/run", headers=responder, timeout=30)
        assert ran.json()["ok"] is True, ran.text


def backup_graph_is_drawn(page: Any, url: str, expect: Any) -> None:
    """From the backups page to the job's: its graph draws the size and duration of each backup."""
    page.goto(f"{url}/backups")
    page.get_by_role("link", name="appdb").click()
    page.wait_for_url(f"{url}/backups/appdb")
    figure = page.locator("figure.graph")
    expect(figure).to_have_attribute("data-drawn", "plot", timeout=DRAWN)
    assert figure.evaluate(LABELS) == ["UTC", "size", "duration"]
    sizes = figure.evaluate("figure => figure.vigilPlot.data[1]")
    assert len(sizes) == 3 and sizes == sorted(sizes), sizes  # each backup larger
    assert figure.evaluate(INKED) > 500
    shown = figure.evaluate("figure => figure.vigilPlot.series[1].value(figure.vigilPlot, 2048)")
    assert shown == "2.0 KiB"


@pytest.mark.slow
def test_a_check_page_draws_its_graph_a_rule_page_its_threshold_and_without_js_a_table(
    target: Switch, vigil_up: Any, tmp_path: Path
) -> None:
    sync_api = playwright_api()
    expect = sync_api.expect
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    vigil = vigil_up(STACK.format(url=target.url))
    vigil.start(wait=STARTED)
    three_backups(vigil, tmp_path / "app.db")
    # A few runs in the series store, so that both graphs have points.
    wait_until(lambda: drawn_runs(vigil.url) >= 2, 30, "two points of runs")

    with sync_api.sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{vigil.url}/checks/web.health?hours=1")
            figure = page.locator("figure.graph")
            expect(figure).to_have_attribute("data-drawn", "plot", timeout=DRAWN)
            assert figure.evaluate(LABELS) == ["UTC", "latency", "up"]
            assert figure.evaluate(INKED) > 500
            expect(figure.locator(".u-legend")).to_contain_text("latency")
            expect(figure.locator(".graph-empty")).to_be_hidden()
            page.screenshot(path=str(tmp_path / "check.png"), full_page=True)

            page.goto(f"{vigil.url}/rules")
            page.get_by_role("link", name="SlowWeb").click()
            page.wait_for_url(f"{vigil.url}/rules/SlowWeb")
            figure = page.locator("figure.graph")
            expect(figure).to_have_attribute("data-drawn", "plot", timeout=DRAWN)
            labels = figure.evaluate(LABELS)
            assert labels[2] == "threshold > 0.5", labels
            measured, threshold = figure.evaluate("figure => figure.vigilPlot.data.slice(1)")
            assert any(v is not None for v in measured) and set(threshold) == {0.5}
            assert figure.evaluate("figure => figure.vigilPlot.series[2].dash") == [6, 4]
            assert figure.evaluate(INKED) > 500
            page.screenshot(path=str(tmp_path / "rule.png"), full_page=True)
            backup_graph_is_drawn(page, vigil.url, expect)
            page.screenshot(path=str(tmp_path / "backup.png"), full_page=True)
            assert not errors, errors  # no CSP refusal, no script error

            # Without JavaScript: no graph, the same figures as a table.
            plain = browser.new_context(java_script_enabled=False).new_page()
            plain.goto(f"{vigil.url}/checks/web.health")
            plain.get_by_text("As a table").click()
            table = plain.locator("figure.graph table")
            expect(table).to_contain_text("latency")
            expect(table).to_contain_text("up")
            assert plain.locator("figure.graph").get_attribute("data-drawn") is None
        finally:
            browser.close()
