"""A responder runs runbook steps from an incident page in a real browser against a real
``vigil up``: the output appears line by line while the step runs, a destructive step asks
first in a dialog naming what matched, and each run lands on the incident's timeline.

Chromium is Debian's (``scripts/install-browser.sh``); Playwright never downloads one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import runbook_stack, wait_until
from tests.server.test_browser import CHROMIUM, chromium, responder_token

RUNBOOK = """# Ops

## Restart the API
See what is running first.

```bash
echo first
sleep 1.5
echo second
```

Then clear what the last deploy left behind.

```bash
rm -rf "$SCRATCH/<dir>"
echo "removed <dir>"
```
"""


@pytest.mark.slow
def test_a_responder_runs_steps_from_the_incident_page_and_watches_their_output(
    vigil_up: Any, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with scripts/install-browser.sh")
    from playwright.sync_api import expect, sync_playwright

    (tmp_path / "ops.md").write_text(RUNBOOK)
    leftover = tmp_path / "scratch" / "build-41"
    leftover.mkdir(parents=True)
    vigil = vigil_up(
        runbook_stack("ops.md", "ops.md#restart-the-api", {"SCRATCH": str(tmp_path / "scratch")})
    )
    vigil.start()
    token = responder_token(vigil.db)
    wait_until(lambda: vigil.api("/incidents"), 20, "the failing check to open an incident")

    with sync_playwright() as playwright:
        browser = chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{vigil.url}/login")
            page.locator("#token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{vigil.url}/")
            page.goto(f"{vigil.url}/incidents/1")

            first, second = page.locator("li.step").nth(0), page.locator("li.step").nth(1)
            first.get_by_role("button", name="Run step 1").click()
            output = first.locator(".run-lines")
            expect(output).to_have_text("first\n", timeout=5_000)  # printed, while the step sleeps
            expect(first.locator(".run-state")).to_have_text("running…")
            expect(output).to_have_text("first\nsecond\n", timeout=5_000)
            expect(first.locator(".run-state")).to_contain_text("exit 0 · 1.")
            timeline = page.locator("table.timeline")
            expect(timeline).to_contain_text("ran step 1 of ops.md#restart-the-api", timeout=5_000)

            # Destructive: the dialog says what matched; nothing runs until it is confirmed.
            second.locator("input[name='param.dir']").fill("build-41")
            second.get_by_role("button", name="Run step 2…").click()
            dialog = second.locator("dialog")
            expect(dialog).to_be_visible()
            expect(dialog).to_contain_text("rm -rf")
            dialog.get_by_role("button", name="Cancel").click()
            expect(dialog).to_be_hidden()
            assert second.locator(".run").count() == 0 and leftover.is_dir()
            second.get_by_role("button", name="Run step 2…").click()
            dialog.get_by_role("button", name="Run it").click()
            expect(second.locator(".run-lines")).to_have_text("removed build-41\n", timeout=5_000)
            expect(second.locator(".run-state")).to_contain_text("exit 0")
            assert not leftover.exists()
            expect(timeline).to_contain_text("ran step 2 of ops.md#restart-the-api", timeout=5_000)
            page.screenshot(path=str(tmp_path / "runbook.png"), full_page=True)
        finally:
            browser.close()
