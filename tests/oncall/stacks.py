"""Stack files the on-call tests share: the issue's own example first."""

from __future__ import annotations

import textwrap

ISSUE_EXAMPLE = textwrap.dedent(
    """
    people:
      alice: {notify: ["mailto://alice@example.com"]}
      bob: {notify: ["mailto://bob@example.com"]}
      erin: {notify: ["mailto://erin@example.com"]}
    oncall:
      schedules:
        primary:
          timezone: Europe/London
          rotation: {every: 1w, handoff: "mon 09:00", start: 2026-01-05}
          members: [alice, bob]
          overrides:
            - {who: erin, from: "2026-02-10T00:00:00Z", to: "2026-02-11T00:00:00Z"}
      escalation:
        default:
          steps:
            - {notify: ["schedule:primary"], wait: 15m}
            - {notify: ["person:erin"], wait: 15m}
          repeat: 1
    """
)
