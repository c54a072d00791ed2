"""The dashboard in a real browser against a real ``vigil up``: sign in, watch a target break,
see the incident appear without a reload, acknowledge it.

Chromium is Debian's (``scripts/install-browser.sh``); Playwright never downloads one.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import VIGIL, Switch

CHROMIUM = Path("/usr/bin/chromium")
SEEN = 15_000  # ms: two failing runs 1 s apart, then at most one 2 s poll, with room to spare

STACK = """
notify:
  channels: {{l: {{log: true}}}}
  default: [l]
services:
  web:
    description: The shop's storefront
    checks:
      health:
        http: {url}/health
        every: 1s
        alert: {{after: 2, severity: P1}}
"""


def chromium(playwright: Any) -> Any:
    """Debian's chromium, as every browser test and benchmark starts it."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def playwright_api() -> Any:
    """``playwright.sync_api``, with Debian's chromium there to drive; else the test fails
    saying what to install."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with scripts/install-browser.sh")
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("playwright is missing; install the dev extras: pip install -e '.[dev]'")
    return sync_api


def responder_token(db: str) -> str:
    made = subprocess.run(
        [VIGIL, "token", "create", "--role", "responder", "--name", "browser", "--db", db, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    token: str = json.loads(made.stdout)["token"]
    return token


@pytest.mark.slow
def test_a_responder_sees_an_incident_appear_without_reload_and_acknowledges_it(
    target: Switch, vigil_up: Any, tmp_path: Path
) -> None:
    playwright_sync = playwright_api()
    expect, sync_playwright = playwright_sync.expect, playwright_sync.sync_playwright

    vigil = vigil_up(STACK.format(url=target.url))
    vigil.start()
    token = responder_token(vigil.db)

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            # Private by default: the dashboard asks to sign in before it shows anything.
            page.goto(f"{vigil.url}/")
            page.wait_for_url(f"{vigil.url}/login?reason=private")
            expect(page.locator("main")).not_to_contain_text("web.health")

            page.locator("#token").fill(token)
            page.get_by_role("button", name="Sign in").click()  # a real Origin header and CSRF field
            page.wait_for_url(f"{vigil.url}/")
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
            expect(page.locator("#services")).to_contain_text("web.health")
            expect(page.locator("#services tr.check.ok")).to_contain_text("web.health", timeout=SEEN)

            # A mark on this very page: still there after the incident shows up means no reload.
            page.evaluate("window.vigilSamePage = true")
            target.healthy = False
            incident = page.locator("#incidents tr.incident")
            expect(incident).to_contain_text("web.health is failing", timeout=SEEN)
            expect(incident.locator(".status")).to_have_text("triggered")
            expect(page.locator("#services tr.check.failing")).to_contain_text("status 500", timeout=SEEN)
            assert page.evaluate("window.vigilSamePage") is True

            incident.get_by_role("button", name="Acknowledge").click()
            expect(page.locator("#incidents tr.incident .status")).to_have_text("acknowledged")
            expect(page.locator("#flash")).to_be_hidden()
            assert page.evaluate("window.vigilSamePage") is True
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

            page.locator("#incidents tr.incident a").first.click()
            timeline = page.locator("table.timeline")
            expect(timeline).to_contain_text("acknowledged by browser")
            expect(timeline).to_contain_text("web.health failed 2 times in a row")
            page.screenshot(path=str(tmp_path / "incident.png"), full_page=True)
        finally:
            browser.close()
