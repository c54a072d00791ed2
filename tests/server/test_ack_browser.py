"""The acknowledge link from a delivered page, opened in a real browser against a real ``vigil
up``: a failing check opens an incident, its escalation mails the on-call person through a real
SMTP server, and the link in that mail acknowledges for them at the press of a button.

Chromium is Debian's (``scripts/install-browser.sh``); Playwright never downloads one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.oncall.conftest import Mailbox
from tests.server.conftest import Switch
from tests.server.test_browser import chromium, playwright_api

STACK = """
notify:
  channels: {{l: {{log: true}}}}
  default: [l]
people:
  alice: {{notify: ["{mail}"]}}
oncall:
  schedules:
    primary:
      rotation: {{every: 1w, handoff: "mon 09:00", start: 2026-01-05}}
      members: [alice]
  escalation:
    default:
      steps:
        - {{notify: ["schedule:primary"], wait: 15m}}
services:
  web:
    checks:
      health:
        http: {url}/health
        every: 1s
        alert: {{after: 1, severity: P1}}
"""


def first_mail(mailbox: Mailbox, to: str, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := mailbox.to(to):
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} within {seconds}s")


@pytest.mark.slow
def test_the_link_in_a_delivered_page_acknowledges_for_the_person_paged(
    target: Switch, vigil_up: Any, tmp_path: Path
) -> None:
    playwright_sync = playwright_api()
    expect, sync_playwright = playwright_sync.expect, playwright_sync.sync_playwright

    mailbox = Mailbox()
    mailbox.start()
    try:
        target.healthy = False
        vigil = vigil_up(STACK.format(url=target.url, mail=mailbox.url("alice@example.com")))
        vigil.start()
        mail = first_mail(mailbox, "alice@example.com")
        assert mail.subject == "[P1 TRIGGERED] web.health is failing"
        link = mail.ack_link
        assert link is not None and link.startswith(f"{vigil.url}/ack/vga_"), mail.text

        with sync_playwright() as playwright:
            browser = chromium(playwright)
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 700})
                page.goto(link)  # what a mail scanner's preview does too: it acknowledges nothing
                expect(page.locator("h1")).to_have_text("Acknowledge incident #1?")
                expect(page.locator("td.status")).to_have_text("triggered")
                assert vigil.api("/incidents/1")["status"] == "triggered"

                page.get_by_role("button", name="Acknowledge as alice").click()
                expect(page.locator("h1")).to_have_text("Acknowledged")
                expect(page.locator("td.status")).to_have_text("acknowledged")
                page.screenshot(path=str(tmp_path / "acknowledged.png"), full_page=True)

                page.goto(link)  # a second use is refused and says why
                expect(page.locator("main")).to_contain_text("used already")
            finally:
                browser.close()
        incident = vigil.api("/incidents/1")
        assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", "alice")
        assert incident["escalation"]["stopped"] == "acknowledged by alice"
        assert "acknowledged by alice" in [e["text"] for e in incident["timeline"]]
    finally:
        mailbox.stop()
