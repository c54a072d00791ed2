"""``services.<name>.metrics``: the service's Prometheus endpoint, which Vigil scrapes.

Written as a bare URL (``metrics: http://127.0.0.1:8080/metrics``) or as a mapping
(``metrics: {url: …, every: 15s, timeout: 5s, headers: {…}, labels: {…}}``). The service's name
becomes the ``job`` label and the URL's ``host:port`` the ``instance`` label, as in Prometheus.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, field_validator, model_validator

from vigil.config.check import StrictModel
from vigil.config.durations import Duration, format_duration
from vigil.config.secrets import redact_url

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Prometheus' default scrape_timeout.
DEFAULT_TIMEOUT = 10.0


class ServiceMetrics(StrictModel):
    url: str = Field(description="The /metrics URL, in Prometheus text format or OpenMetrics.")
    every: Duration = Field(default=15.0, description="Interval between scrapes, e.g. 15s.")
    timeout: Duration | None = Field(
        default=None, description="Longest a scrape may take; default 10s, or `every` if that is shorter."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Request headers, e.g. Authorization: Bearer ${TOKEN}."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels added to every scraped series, e.g. {env: prod}."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_bare_url(cls, value: Any) -> Any:
        return _bare_url(value)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            usable = False
        if not usable:
            raise ValueError(f"expected an http:// or https:// URL with a host, got {redact_url(value)!r}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels_are_prometheus_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not LABEL_NAME.fullmatch(name):
                raise ValueError(f"label name {name!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
            if name.startswith("__"):
                raise ValueError(f"label name {name!r}: names starting with __ are reserved")
            if name == "job":
                raise ValueError("label job is always the service's name; choose another label")
        return value

    @model_validator(mode="after")
    def _timing_fits(self) -> ServiceMetrics:
        if self.every <= 0:
            raise ValueError("every must be longer than 0s")
        if self.timeout is not None and not 0 < self.timeout <= self.every:
            # As Prometheus requires: a scrape must end before the next one is due.
            raise ValueError(
                f"timeout must be longer than 0s and at most every ({format_duration(self.every)})"
            )
        return self

    @property
    def scrape_timeout(self) -> float:
        return self.timeout if self.timeout is not None else min(DEFAULT_TIMEOUT, self.every)


def _bare_url(value: Any) -> Any:
    return {"url": value} if isinstance(value, str) else value


MetricsEndpoint = Annotated[
    ServiceMetrics,
    # Declared here too, with its input type, so the JSON Schema offers the string form as well.
    BeforeValidator(_bare_url, json_schema_input_type=str | ServiceMetrics),
]
"""The type of ``Service.metrics``: a bare URL or a ``ServiceMetrics`` mapping."""
