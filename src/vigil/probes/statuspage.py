"""``statuspage``: a vendor's Atlassian Statuspage page says its service (or the named parts of
it) is operational.

The probe reads ``<page>/api/v2/summary.json``. Without ``components`` it judges the page's
overall indicator; with them, only those components (matched by name, ignoring case), so an
outage of a product you do not use does not page you. A failure's reason names the vendor's own
open incident titles and the statuses it gives: ``major outage (indicator major): incident
"Elevated error rates on the API" (investigating); API partial outage``. A component under
maintenance counts as not operational.

Values: ``indicator`` (0 none, 1 minor or maintenance, 2 major, 3 critical), ``incidents``
(open incidents on the page) and, for each named component, ``component.NAME`` with NAME in
lower case and every run of other characters as ``_`` (``Chat Completions`` →
``component.chat_completions``): 0 operational, 1 degraded performance or under maintenance,
2 partial outage, 3 major outage.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator

from vigil.config.check import CheckBase
from vigil.config.durations import Duration
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.json_api import JsonClient, check_http_url
from vigil.probes.query import show

# A large vendor's summary (hundreds of components, a day of incident updates) is a few hundred KiB.
BODY_LIMIT = 2 * 1024 * 1024
MAX_COMPONENTS = 50
SUMMARY_PATH = "/api/v2/summary.json"
INDICATORS = {"none": 0, "minor": 1, "maintenance": 1, "major": 2, "critical": 3}
COMPONENT_LEVELS = {
    "operational": 0,
    "degraded_performance": 1,
    "under_maintenance": 1,
    "partial_outage": 2,
    "major_outage": 3,
}
_CLOSED = frozenset({"resolved", "postmortem", "completed"})
# A reason stays one readable line however bad the vendor's day is.
_MOST_NAMED = 3
_TITLE_LENGTH = 100


class StatuspageCheck(CheckBase):
    kind: ClassVar[str] = "statuspage"

    statuspage: str = Field(description="The vendor's status page, e.g. https://status.openai.com.")
    components: list[str] = Field(
        default_factory=list,
        max_length=MAX_COMPONENTS,
        description="Components to judge by name, e.g. [API, ChatGPT]; default: the whole page.",
    )
    every: Duration = Field(300.0, description="Interval between runs; vendors' pages change slowly.")

    @field_validator("statuspage")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("components")
    @classmethod
    def _names_are_usable(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.strip() or len(name) > 200:
                raise ValueError(f"component name {name!r} must be 1 to 200 characters")
        return list(dict.fromkeys(value))

    @property
    def summary_url(self) -> str:
        """``<page>/api/v2/summary.json``, also when the page's status.json or summary.json is given."""
        parts = urlsplit(self.statuspage)
        path = parts.path.rstrip("/")
        for known in (SUMMARY_PATH, "/api/v2/status.json"):
            if path.endswith(known):
                path = path[: -len(known)]
        return urlunsplit((parts.scheme, parts.netloc, path + SUMMARY_PATH, "", ""))


@dataclass(frozen=True)
class Notice:
    """An open incident, or a maintenance in progress, as the vendor words it."""

    kind: str
    title: str
    status: str
    components: frozenset[str]

    def __str__(self) -> str:
        return f'{self.kind} "{self.title}" ({_words(self.status)})'


@dataclass(frozen=True)
class Component:
    name: str
    status: str

    @property
    def level(self) -> int:
        return COMPONENT_LEVELS.get(self.status, max(COMPONENT_LEVELS.values()))

    def __str__(self) -> str:
        return f"{self.name} {_words(self.status)}"


@dataclass(frozen=True)
class Summary:
    """What the probe reads of a page's summary.json."""

    indicator: str
    description: str
    components: tuple[Component, ...]
    notices: tuple[Notice, ...]
    incidents: int

    @classmethod
    def read(cls, document: Any, url: str) -> Summary:
        status = document.get("status") if isinstance(document, dict) else None
        indicator = status.get("indicator") if isinstance(status, dict) else None
        if not isinstance(document, dict) or not isinstance(status, dict) or not isinstance(indicator, str):
            raise ProbeError(f"{url} has no status.indicator: not an Atlassian Statuspage summary")
        if indicator not in INDICATORS:
            raise ProbeError(f"{url} gives indicator {show(indicator)}, not one Statuspage uses")
        incidents = _notices(document.get("incidents"), "incident")
        return cls(
            indicator=indicator,
            description=_words(str(status.get("description") or indicator)),
            components=_components(document.get("components")),
            notices=incidents + _notices(document.get("scheduled_maintenances"), "maintenance"),
            incidents=len(incidents),
        )

    def named(self, name: str) -> Component | None:
        """The component called ``name`` (ignoring case); the worst when several groups have one."""
        same = [c for c in self.components if c.name.casefold() == name.casefold()]
        return max(same, key=lambda c: c.level) if same else None


class StatuspageProbe:
    """One connection pool for every statuspage check."""

    def __init__(self) -> None:
        self._http = JsonClient(BODY_LIMIT)

    async def observe(self, check: StatuspageCheck) -> Observation:
        url = check.summary_url
        answer = await self._http.get(url, check.timeout)
        if answer.status != 200:
            raise ProbeError(f"{url} answered {answer.status}, expected 200; is it a Statuspage page?")
        summary = Summary.read(answer.json(url), url)
        values: dict[str, float] = {
            "indicator": INDICATORS[summary.indicator],
            "incidents": summary.incidents,
        }
        if check.components:
            return _judge_components(check.components, summary, values)
        if summary.indicator == "none":
            return Observation.passed(**values)
        head = f"{summary.description} (indicator {summary.indicator})"
        hurt = [c for c in summary.components if c.status != "operational"]
        return Observation.failed(_reason(head, summary.notices, hurt), **values)

    async def close(self) -> None:
        await self._http.close()


def _judge_components(names: list[str], summary: Summary, values: dict[str, float]) -> Observation:
    missing: list[str] = []
    hurt: list[Component] = []
    for name in names:
        component = summary.named(name)
        if component is None:
            listed = list(dict.fromkeys(c.name for c in summary.components))
            close = difflib.get_close_matches(name, listed, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]}?)" if close else ""
            missing.append(f"component {show(name)} is not on the page{hint}")
            continue
        if component.status in COMPONENT_LEVELS:
            values[f"component.{_slug(name)}"] = component.level
        if component.status != "operational":
            hurt.append(component)
    if missing:
        return Observation.failed("; ".join(missing), **values)
    if not hurt:
        return Observation.passed(**values)
    # The vendor's notices about these components; when none names one, every open notice.
    touched = {c.name.casefold() for c in hurt}
    related = [n for n in summary.notices if n.components & touched] or list(summary.notices)
    return Observation.failed(_reason(None, related, hurt), **values)


def _reason(head: str | None, notices: Sequence[Notice], hurt: Sequence[Component]) -> str:
    parts = [head] if head else []
    parts.append(", ".join(_some(hurt)))
    parts.extend(_some(notices))
    return "; ".join(part for part in parts if part)


def _some(items: Sequence[object]) -> list[str]:
    """The first few items as text, and how many more there are."""
    shown = [str(item) for item in items[:_MOST_NAMED]]
    return [*shown, f"{len(items) - _MOST_NAMED} more"] if len(items) > _MOST_NAMED else shown


def _notices(items: Any, kind: str) -> tuple[Notice, ...]:
    """The unresolved incidents, or maintenances in progress, of a summary, read defensively."""
    kept: list[Notice] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("status") in _CLOSED:
            continue
        if kind == "maintenance" and item.get("status") != "in_progress":
            continue  # one that has not started says nothing about now
        listed = item.get("components")
        touched = [c.get("name") for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
        kept.append(
            Notice(
                kind,
                _words(str(item.get("name") or "untitled")),
                str(item.get("status") or "open"),
                frozenset(str(name).casefold() for name in touched if name),
            )
        )
    return tuple(kept)


def _components(items: Any) -> tuple[Component, ...]:
    found = [
        Component(item["name"], str(item.get("status")))
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    ]
    return tuple(found)


def _words(text: str) -> str:
    """Vendor text as one short line: ``partial_outage`` → ``partial outage``."""
    return " ".join(text.replace("_", " ").split())[:_TITLE_LENGTH]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_") or "component"


KIND = ProbeKind("statuspage", StatuspageCheck, StatuspageProbe, loads=("aiohttp",))
