"""The dashboard's HTML: one Jinja2 environment with autoescaping on for every template, the
filters the templates use (relative times, durations, sparklines) and the headers every page
carries.

Autoescaping is not optional here: check reasons, incident titles and notes are untrusted text
(a probed server chooses what its error page says).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from vigil.incidents.model import span
from vigil.server import procedure_view

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

T = TypeVar("T")

# Everything the dashboard loads comes from this server: no inline script, no inline style,
# no framing (the action buttons must not be clickjacked).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

NONE = "\u2013"  # an en dash, for a cell with nothing to show yet
SPARK_WIDTH = 120
SPARK_HEIGHT = 24


def sparkline(values: Iterable[float], width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT) -> Markup:
    """A latency sparkline as inline SVG: oldest run on the left, the slowest touching the top,
    zero at the bottom. Built here rather than in a template macro because the overview draws
    up to a few hundred of them per render; only numbers go into it, so it needs no escaping.
    """
    data = [v for v in values if math.isfinite(v)]
    runs = f"{len(data)} run{'' if len(data) == 1 else 's'}"
    head = (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="latency of the last {runs}">'
    )
    if not data:
        return Markup(head + "</svg>")
    low, high = min(data), max(data)
    if len(data) == 1:
        data = data * 2  # a new check still shows a (flat) line
    step = width / (len(data) - 1)
    span = height - 2  # one pixel of margin keeps the stroke inside the box at both extremes
    top = high or 1.0
    points = " ".join(f"{i * step:.1f},{1 + span - v / top * span:.1f}" for i, v in enumerate(data))
    title = f"{duration(low)} to {duration(high)} over the last {runs}"
    return Markup(f'{head}<title>{title}</title><polyline points="{points}"/></svg>')


def ago(moment: datetime | str | None, now: datetime) -> str:
    if moment is None:
        return "never"
    if isinstance(moment, str):  # as an API answer writes it (ISO 8601)
        moment = datetime.fromisoformat(moment)
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "just now"
    return f"{span(seconds)} ago"


def until(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    return f"in {span(seconds)}" if seconds >= 0 else f"overdue {span(-seconds)}"


def duration(ms: float | None) -> str:
    if ms is None:
        return NONE
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def percent(value: float | None) -> str:
    if value is None:
        return NONE
    return "100 %" if value >= 100 else f"{value:.2f} %"


def size(count: int | None) -> str:
    """Bytes as people read them: ``812 B``, ``1.5 KiB``, ``23.4 MiB``."""
    if count is None:
        return NONE
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"


def iso_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def _environment() -> Environment:
    # StrictUndefined turns a misspelt variable into an error in the tests, not a blank cell.
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ago=ago, until=until, duration=duration, percent=percent, iso_time=iso_time, size=size, span=span
    )
    env.globals.update(
        sparkline=sparkline, procedure_steps=procedure_view.steps, run_box=procedure_view.dom_id
    )
    return env


ENV = _environment()


def render(name: str, **context: Any) -> str:
    return ENV.get_template(name).render(**context)


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


class Cached(Generic[T]):
    """A value rebuilt at most once per ``ttl`` seconds.

    Every open dashboard polls every 2 s; at 10,000 checks summing up and rendering the
    services once per second instead of once per poll keeps the dashboard and the API fast
    together. The key is time alone: the services section is the same for every visitor.
    """

    def __init__(self, build: Callable[[], T], ttl: float = 1.0) -> None:
        self._build = build
        self._ttl = ttl
        self._value: T | None = None
        self._at = -math.inf

    def get(self) -> T:
        now = time.monotonic()
        if self._value is None or now - self._at >= self._ttl:
            self._value = self._build()
            self._at = now
        return self._value
