"""Prometheus' HTTP query API under ``/prometheus``: Grafana's Prometheus data source with the URL
``http://HOST:8484/prometheus``, and ``promtool query … http://HOST:8484/prometheus``, read Vigil's
series as they read Prometheus'.

Thin over ``metrics.query_api``. As Prometheus does, each call takes its parameters from the query
string or a form body (``POST``, ``application/x-www-form-urlencoded``; a body's value wins), and
errors answer Prometheus' shape with Vigil's ``error`` key in it (``error_shape``). Reading needs a
viewer's bearer token unless the stack file says ``server: {public_read: true}`` (``auth``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from vigil.metrics import query_api
from vigil.metrics.query_params import bad_param, parse_duration, parse_time
from vigil.server.runtime import Runtime

router = APIRouter(prefix="/prometheus/api/v1", tags=["prometheus"])


class PrometheusError(BaseModel):
    """Prometheus' error answer, with Vigil's ``error`` key."""

    status: str = Field(description='Always "error".')
    errorType: str = Field(description="bad_data (400), execution (422), timeout (503), …")
    error: str = Field(description="What went wrong, in one line.")


# What a query can answer besides success, as Prometheus answers it.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": PrometheusError, "description": "bad_data: a parameter or the query does not read."},
    422: {"model": PrometheusError, "description": "execution: the query failed or selects too much."},
    503: {"model": PrometheusError, "description": "timeout: the query ran past its timeout."},
}
BOTH = ["GET", "POST"]
Endpoint = Callable[..., Awaitable[Response]]
# Prometheus' "minTime" and "maxTime": a series call without start or end looks at all time.
ALL_TIME = (-9_223_372_036.854, 9_223_372_036.854)
FORM = "application/x-www-form-urlencoded"


class Params:
    """A request's parameters: its form body's first, then its query string's."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    @classmethod
    async def of(cls, request: Request) -> Params:
        pairs: list[tuple[str, str]] = []
        if request.method == "POST" and request.headers.get("content-type", "").startswith(FORM):
            form = await request.form()
            pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        pairs += list(request.query_params.multi_items())
        return cls(pairs)

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.pairs if k == name), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def time(self, name: str, default: float | None = None) -> float:
        text = self.get(name)
        if text is None and default is not None:
            return default
        return parse_time(text or "", name)

    def duration(self, name: str) -> float:
        return parse_duration(self.get(name) or "", name)

    def timeout(self) -> float | None:
        return None if self.get("timeout") is None else self.duration("timeout")

    def listing(self) -> query_api.Listing:
        """``match[]``, ``start``, ``end`` (all time by default) and ``limit`` of a listing call."""
        start, end = self.time("start", ALL_TIME[0]), self.time("end", ALL_TIME[1])
        return query_api.Listing(self.all("match[]"), start, end, self.limit())

    def limit(self) -> int | None:
        text = self.get("limit")
        if text is None or text == "":
            return None
        if not text.isdigit():
            raise bad_param(
                "limit", f"cannot parse {text[:64]!r} to a valid limit; give a whole number, 0 for none"
            )
        return int(text)


def route(path: str, summary: str, methods: list[str] = BOTH) -> Callable[[Endpoint], Endpoint]:
    """One route per method, so that the API document gives each its own operation id
    (``query_get``, ``query_post``) as OpenAPI requires."""

    def register(endpoint: Endpoint) -> Endpoint:
        for method in methods:
            router.add_api_route(
                path,
                endpoint,
                methods=[method],
                name=f"{endpoint.__name__}_{method.lower()}",
                summary=summary,
                responses=ERRORS,
            )
        return endpoint

    return register


def _most(runtime: Runtime) -> int:
    """The most series one answer holds: the stack file's ``metrics.query_max_series``."""
    return runtime.stack.model.metrics.query_max_series


def _json(text: str) -> Response:
    return Response(text, media_type="application/json")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@route("/query", "An instant query, as Prometheus' /api/v1/query")
async def query(request: Request) -> Response:
    params = await Params.of(request)
    runtime = _runtime(request)
    at = params.time("time", runtime.clock.now().timestamp())
    text = params.get("query") or ""
    most = _most(runtime)
    return _json(query_api.instant(runtime.series, text, at, params.timeout(), most))


@route("/query_range", "A range query, as Prometheus' /api/v1/query_range")
async def query_range(request: Request) -> Response:
    params = await Params.of(request)
    start, end, step = params.time("start"), params.time("end"), params.duration("step")
    runtime = _runtime(request)
    text = params.get("query") or ""
    most = _most(runtime)
    return _json(await query_api.range_query(runtime.series, text, start, end, step, params.timeout(), most))


@route("/series", "Series matching match[], as Prometheus' /api/v1/series")
async def series(request: Request) -> Response:
    listing, runtime = (await Params.of(request)).listing(), _runtime(request)
    return _json(query_api.series(runtime.series, listing, _most(runtime)))


@route("/labels", "Label names, as Prometheus' /api/v1/labels")
async def labels(request: Request) -> Response:
    listing, runtime = (await Params.of(request)).listing(), _runtime(request)
    return _json(query_api.label_names(runtime.series, listing, _most(runtime)))


@route("/label/{name}/values", "A label's values, as Prometheus' /api/v1/label/NAME/values", methods=["GET"])
async def label_values(request: Request, name: str) -> Response:
    listing, runtime = (await Params.of(request)).listing(), _runtime(request)
    return _json(query_api.label_values(runtime.series, name, listing, _most(runtime)))


@route("/status/buildinfo", "The Prometheus version whose API this follows (Grafana asks)", methods=["GET"])
async def build_info() -> Response:
    return _json(query_api.build_info())


@route("/metadata", "Metric metadata: none kept (Grafana asks)")
async def metadata() -> Response:
    return _json('{"status":"success","data":{}}')


@route("/query_exemplars", "Exemplars: none kept (Grafana asks)")
async def query_exemplars(request: Request) -> Response:
    params = await Params.of(request)
    query_api.compiled(params.get("query") or "")  # a bad query is still refused as Prometheus does
    return _json('{"status":"success","data":[]}')
