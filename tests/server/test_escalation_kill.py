"""``kill -9`` of ``vigil up`` in the middle of an escalation: after the restart it goes on from
the step it had reached, and nobody is paged twice (real process, real SMTP server)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.oncall.conftest import Mailbox
from tests.server.conftest import Switch, wait_until

STACK = """
notify:
  channels: {{l: {{log: true}}}}
  default: [l]
people:
  alice: {{notify: ["{alice}"]}}
  bob: {{notify: ["{bob}"]}}
  carol: {{notify: ["{carol}"]}}
oncall:
  escalation:
    default:
      steps:
        - {{notify: ["person:alice"], wait: 2s}}
        - {{notify: ["person:bob"], wait: 2s}}
        - {{notify: ["person:carol"], wait: 2s}}
services:
  web:
    checks:
      health:
        http: {url}/health
        every: 1s
        alert: {{after: 1, severity: P1}}
"""
WHO = ("alice@example.com", "bob@example.com", "carol@example.com")


def texts(vigil: Any) -> list[str]:
    return [e["text"] for e in vigil.api("/incidents/1")["timeline"]]


@pytest.mark.slow
def test_kill_9_in_the_middle_of_an_escalation_resumes_without_a_second_page(
    target: Switch, vigil_up: Any, tmp_path: Path
) -> None:
    mailbox = Mailbox()
    mailbox.start()

    def pages() -> tuple[int, ...]:
        return tuple(len(mailbox.to(who)) for who in WHO)

    try:
        target.healthy = False
        vigil = vigil_up(STACK.format(url=target.url, **{w.split("@")[0]: mailbox.url(w) for w in WHO}))
        vigil.start()
        wait_until(lambda: pages() == (1, 0, 0), 30, "alice's page")
        assert vigil.kill() == -9
        time.sleep(3)  # bob's step (2 s after alice's page) falls due while no Vigil runs
        assert pages() == (1, 0, 0)

        vigil.start()
        wait_until(lambda: pages() == (1, 1, 0), 30, "bob's page after the restart")
        wait_until(lambda: pages() == (1, 1, 1), 30, "carol's page, a wait later")
        stopped = "escalation stopped: policy default ended: nobody acknowledged after 1 round"
        wait_until(lambda: stopped in texts(vigil), 30, "the policy to end")
        time.sleep(3)  # the policy has ended: nothing more comes, a step's wait later either
        assert pages() == (1, 1, 1)
        timeline = texts(vigil)
        paged = [line.split(" (")[0] for line in timeline if line.startswith("paged ")]
        assert paged == [
            "paged alice via mailto://…",
            "paged bob via mailto://…",
            "paged carol via mailto://…",
        ]
        assert stopped in timeline
    finally:
        mailbox.stop()
