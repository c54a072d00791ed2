"""A condition as runbooks state it, read into its parts: "p95 latency > 2 seconds for 5
minutes" is the subject "p95 latency", ``>``, 2, seconds, held for 300s; "Health check fails 3x"
is three failures in a row. And the runbook's severity words as Vigil's P1-P4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigil.incidents.severity import Severity

_THRESHOLD = re.compile(
    r"(?P<op>>=|<=|>|<|≥|≤|\bover\b|\babove\b|\bexceeds?\b|\bmore than\b|\bgreater than\b|\bhigher than\b|"
    r"\bbelow\b|\bunder\b|\bless than\b|\blower than\b)\s*(?P<num>\d+(?:\.\d+)?)\s*"
    r"(?P<unit>%|percent\b|ms\b|milliseconds?\b|s\b|secs?\b|seconds?\b|minutes?\b|mins?\b|"
    r"[kmgt]i?b\b|bytes\b|x\b|times\b)?",
    re.I,
)
_FOR = re.compile(
    r"(?P<word>\bfor\b|\bsustained(?:\s+for)?\b|\bover\b|\blasting\b|\bwithin\b)\s*(?:>|more than|at least)?\s*"
    r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b",
    re.I,
)
_TIMES = re.compile(
    r"(?:fails?|failing|failed|failures?)\s*(?P<n>\d{1,3})\s*(?:x\b|times\b|in a row|consecutive)", re.I
)
_SECONDS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60}
_SECONDS |= {"minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}
_BELOW = ("<", "<=", "≤", "below", "under", "less than", "lower than")
LONGEST_FOR = 7 * 86400.0

_SEVERITIES = (
    (
        Severity.P1,
        re.compile(r"\bcritical\b|\bcrit\b|\bsev\s*-?1\b|\bp1\b|\burgent\b|\bemergency\b|\bpage\b", re.I),
    ),
    (Severity.P2, re.compile(r"\bhigh\b|\bmajor\b|\berror\b|\bsev\s*-?2\b|\bp2\b", re.I)),
    (
        Severity.P3,
        re.compile(r"\bwarn(?:ing)?\b|\bminor\b|\bmedium\b|\bmoderate\b|\bsev\s*-?3\b|\bp3\b", re.I),
    ),
    (Severity.P4, re.compile(r"\blow\b|\binfo\b|\bnotice\b|\bsev\s*-?4\b|\bp4\b|\bminimal\b", re.I)),
)


@dataclass(frozen=True)
class Condition:
    text: str
    subject: str  # lower case, the words before the threshold
    op: str  # ">" or "<"
    value: float | None
    unit: str  # "%", "ms", "s", "bytes" or "" (a count)
    hold: float  # seconds it must hold ("for 5 minutes"); 0 when not said
    times: int | None  # "fails 3x"


def read(text: str) -> Condition:
    threshold = _THRESHOLD.search(text)
    subject = (text[: threshold.start()] if threshold else text).strip(" (:-").lower()
    value: float | None = None
    op, unit = ">", ""
    if threshold:
        value = float(threshold["num"])
        op = "<" if threshold["op"].lower() in _BELOW else ">"
        unit, value = _unit(threshold["unit"] or "", value)
    hold = 0.0
    for match in _FOR.finditer(text):
        if threshold is None or match.start() >= threshold.end() or match.end() <= threshold.start():
            hold = min(float(match["n"]) * _SECONDS[match["unit"].lower()], LONGEST_FOR)
    times = _TIMES.search(text)
    return Condition(text, subject, op, value, unit, hold, int(times["n"]) if times else None)


def _unit(unit: str, value: float) -> tuple[str, float]:
    word = unit.lower()
    if word in ("%", "percent"):
        return "%", value
    if word.startswith(("ms", "milli")):
        return "s", value / 1000
    if word in _SECONDS:
        return "s", value * _SECONDS[word]
    if word.endswith("b") and word[0] in _POWERS:
        return "bytes", value * (1024 if "i" in word else 1000) ** _POWERS[word[0]]
    return "", value


def severity(*texts: str) -> tuple[Severity, str] | None:
    """The severity the first text that names one says, with the runbook's word for it."""
    for text in texts:
        for level, pattern in _SEVERITIES:
            match = pattern.search(text)
            if match:
                return level, match.group()
    return None
