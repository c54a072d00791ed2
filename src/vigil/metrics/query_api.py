"""Prometheus' HTTP query API over Vigil's series store: what ``/prometheus/api/v1/…`` answers.

    instant(source, query, at, time_limit)           /api/v1/query
    range_query(source, query, start, end, step, …)  /api/v1/query_range
    series(source, listing)                          /api/v1/series
    label_names / label_values(…, listing)           /api/v1/labels, /api/v1/label/NAME/values

Each returns the JSON text of Prometheus' answer (``{"status":"success","data":…}``), written
here rather than through ``json.dumps`` of nested lists: a day of 15-second steps for a hundred
series is over half a million points. Values are spelled as Prometheus spells them (``"NaN"``,
``"+Inf"``, ``"0.000001"``, never an exponent), times as seconds with up to three decimals.

Bounded: the query's length, points per series (``ranges.MAX_POINTS``), series per answer,
samples per answer and a timeout (Prometheus' ``--query.timeout``, lowered by ``timeout=``),
checked between slices of steps, where the event loop also gets to run other work.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from vigil import __version__
from vigil.metrics.promql import CompiledExpr, PromQLError, compile_expr, evaluate
from vigil.metrics.promql.selectors import VectorSelector
from vigil.metrics.query_params import ErrorType, QueryAPIError, bad_param
from vigil.metrics.ranges import RangeEvaluation, RangeSeries, steps
from vigil.metrics.series import Matcher, SeriesSource

MAX_QUERY_CHARS = 16_384
MAX_SERIES = 10_000  # per answer (a query, a range query, /series) unless metrics.query_max_series says
MAX_SAMPLES = 2_000_000  # points held by one range query, as Prometheus' --query.max-samples
MAX_TIMEOUT = 60.0  # seconds; a request's timeout= may only lower it
STEPS_PER_SLICE = 64
_LABEL_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_LABEL_NAME_REST = _LABEL_NAME_START | frozenset("0123456789")


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it (Go's ``strconv.FormatFloat(v, 'f', -1, 64)``)."""
    text = repr(value)
    if text[-2:] == ".0":  # the common case first: a whole number
        return text[:-2]
    if "e" not in text and "n" not in text:  # neither an exponent nor nan/inf
        return text
    if value != value:  # noqa: PLR0124 - NaN
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    return format(Decimal(text), "f")


def _points(points: Sequence[tuple[float, float]], stamps: Mapping[float, str]) -> str:
    """``[t,"v"],…`` of one series. A day of steps is thousands of values: they are written by
    ``repr`` in one pass, whole numbers' ``.0`` cut by one regex, and ``format_value`` is only
    called one by one when an exponent, a NaN or an infinity is among them."""
    times = [t for t, _ in points]
    values = [v for _, v in points]
    texts = "\x00".join(map(repr, values))
    slow = "e" in texts or "n" in texts  # an exponent, nan or inf
    texts = "\x00".join(map(format_value, values)) if slow else _WHOLE.sub("", texts)
    return '"],'.join(map(str.__add__, map(stamps.__getitem__, times), texts.split("\x00"))) + '"]'


_WHOLE = re.compile(r"\.0(?=\x00|\Z)")


def format_time(seconds: float) -> str:
    """Seconds with the milliseconds Prometheus keeps: ``12``, ``12.5`` as ``12.500``."""
    ms = round(seconds * 1000)
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    whole, fraction = divmod(ms, 1000)
    return f"{sign}{whole}.{fraction:03d}" if fraction else f"{sign}{whole}"


def _metric(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), ensure_ascii=False, separators=(",", ":"))


def _success(data: str) -> str:
    return '{"status":"success","data":' + data + "}"


def compiled(query: str) -> CompiledExpr:
    if not query:
        raise bad_param("query", "1:1: parse error: no expression found in input")
    if len(query) > MAX_QUERY_CHARS:
        raise bad_param(
            "query", f"the query is {len(query):,} characters; at most {MAX_QUERY_CHARS:,} are taken"
        )
    try:
        return compile_expr(query)
    except PromQLError as err:
        raise bad_param("query", str(err)) from None


class Deadline:
    def __init__(self, seconds: float | None) -> None:
        self.seconds = MAX_TIMEOUT if seconds is None or seconds <= 0 else min(seconds, MAX_TIMEOUT)
        self.at = time.monotonic() + self.seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise QueryAPIError(
                ErrorType.TIMEOUT, f"query timed out in query execution (after {self.seconds:g}s)"
            )


def _too_many_series(count: int, most: int) -> QueryAPIError:
    return QueryAPIError(
        ErrorType.EXECUTION,
        f"the query selects {count:,} series or more; at most {most:,} are answered (narrow its matchers)",
    )


def instant(
    source: SeriesSource, query: str, at: float, time_limit: float | None = None, max_series: int = MAX_SERIES
) -> str:
    """The query at ``at``; a vector in the evaluator's order (``sort``, ``topk`` keep theirs)."""
    expr = compiled(query)
    deadline = Deadline(time_limit)
    try:
        answer = evaluate(expr, at, source)
    except PromQLError as err:
        raise QueryAPIError(ErrorType.EXECUTION, str(err)) from None
    deadline.check()
    when = format_time(at)
    if isinstance(answer, float):
        return _success(f'{{"resultType":"scalar","result":[{when},"{format_value(answer)}"]}}')
    if len(answer) > max_series:
        raise _too_many_series(len(answer), max_series)
    result = ",".join(
        f'{{"metric":{_metric(s.labels)},"value":[{when},"{format_value(s.value)}"]}}' for s in answer
    )
    return _success('{"resultType":"vector","result":[' + result + "]}")


async def range_query(
    source: SeriesSource,
    query: str,
    start: float,
    end: float,
    step: float,
    time_limit: float | None = None,
    max_series: int = MAX_SERIES,
) -> str:
    expr = compiled(query)
    if end < start:
        raise bad_param("end", "end timestamp must not be before start time")
    if step <= 0:
        raise bad_param(
            "step", "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    try:
        times = steps(start, end, step)
    except PromQLError as err:  # too many points: Prometheus' words, without a parameter's name
        raise QueryAPIError(ErrorType.BAD_DATA, str(err)) from None
    deadline = Deadline(time_limit)
    evaluation = RangeEvaluation(expr, source, (start, end))
    for first in range(0, len(times), STEPS_PER_SLICE):
        try:
            evaluation.run(times[first : first + STEPS_PER_SLICE])
        except PromQLError as err:
            raise QueryAPIError(ErrorType.EXECUTION, str(err)) from None
        if evaluation.series > max_series:
            raise _too_many_series(evaluation.series, max_series)
        if evaluation.points > MAX_SAMPLES:
            raise QueryAPIError(
                ErrorType.EXECUTION,
                f"query processing would load too many samples into memory in query execution "
                f"(more than {MAX_SAMPLES:,}); shorten the range or raise the step",
            )
        deadline.check()
        await asyncio.sleep(0)  # scrapes, rules and other requests run between slices
    answer = evaluation.result()
    if expr.returns_scalar:
        points = ",".join(f'[{format_time(t)},"{format_value(v)}"]' for t, v in answer)  # type: ignore[misc]
        return _success('{"resultType":"matrix","result":[{"metric":{},"values":[' + points + "]}]}")
    parts = []
    stamps = {t: "[" + format_time(t) + ',"' for t in times}  # each step's time written once
    for s in answer:
        assert isinstance(s, RangeSeries)
        parts.append(f'{{"metric":{_metric(s.labels)},"values":[{_points(s.points, stamps)}]}}')
    return _success('{"resultType":"matrix","result":[' + ",".join(parts) + "]}")


def selectors(matches: Sequence[str]) -> list[tuple[Matcher, ...]]:
    """Each ``match[]`` as the matchers of one series selector."""
    found = []
    for text in matches:
        expr = compiled(text)
        if type(expr.root) is not VectorSelector or expr.root.offset_ms:
            raise bad_param("match[]", f'{text[:200]!r} is not a series selector such as up{{job="api"}}')
        found.append(expr.root.matchers)
    return found


@dataclass(frozen=True)
class Listing:
    """What ``/series``, ``/labels`` and ``/label/NAME/values`` are asked: the series matching any
    of ``matches`` (every series without one) with samples in ``[start, end]``, at most ``limit``
    answers (None or 0: all of them)."""

    matches: Sequence[str]
    start: float
    end: float
    limit: int | None

    def selected(self, source: SeriesSource, max_series: int) -> list[Mapping[str, str]]:
        """The label sets of the series asked for, each once, sorted by labels."""
        if self.end < self.start:
            raise bad_param("end", "end timestamp must not be before start time")
        found: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
        for matchers in selectors(self.matches) if self.matches else [()]:
            for series in source.select(matchers, self.start - 0.001, self.end):
                found.setdefault(tuple(sorted(series.labels.items())), series.labels)
                if len(found) > max_series:
                    raise _too_many_series(len(found), max_series)
        return [found[key] for key in sorted(found)]

    def answer(self, items: Sequence[str]) -> str:
        """``items`` (each a JSON text) as the answer's data, cut to the limit with Prometheus' warning."""
        shown = items if not self.limit or len(items) <= self.limit else items[: self.limit]
        data = "[" + ",".join(shown) + "]"
        if len(shown) < len(items):
            return '{"status":"success","data":' + data + ',"warnings":["results truncated due to limit"]}'
        return _success(data)


def _strings(texts: Iterable[str]) -> list[str]:
    return [json.dumps(text, ensure_ascii=False) for text in sorted(texts)]


def series(source: SeriesSource, listing: Listing, max_series: int = MAX_SERIES) -> str:
    if not listing.matches:
        raise QueryAPIError(ErrorType.BAD_DATA, "no match[] parameter provided")
    return listing.answer([_metric(labels) for labels in listing.selected(source, max_series)])


def label_names(source: SeriesSource, listing: Listing, max_series: int = MAX_SERIES) -> str:
    names = {name for labels in listing.selected(source, max_series) for name in labels}
    return listing.answer(_strings(names))


def label_values(source: SeriesSource, name: str, listing: Listing, max_series: int = MAX_SERIES) -> str:
    if not name or name[0] not in _LABEL_NAME_START or not set(name) <= _LABEL_NAME_REST:
        raise QueryAPIError(ErrorType.BAD_DATA, f"invalid label name: {name[:200]!r}")
    values = {labels[name] for labels in listing.selected(source, max_series) if name in labels}
    return listing.answer(_strings(values))


def build_info() -> str:
    """What ``/api/v1/status/buildinfo`` answers; no ``features``, so Grafana takes it for Prometheus."""
    info = {
        "version": "2.42.0",  # the Prometheus whose PromQL and API Vigil follows
        "revision": f"vigil-{__version__}",
        "branch": "vigil",
        "buildUser": "vigil",
        "buildDate": "",
        "goVersion": "none (Vigil, Python)",
    }
    return _success(json.dumps(info, separators=(",", ":")))
