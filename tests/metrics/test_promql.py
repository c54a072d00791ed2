"""The PromQL evaluator on hand-built series, one table per feature; every expected value is
derived from Prometheus 2.42's algorithm in the comment beside it."""

from __future__ import annotations

import math
import re

import pytest
import regex

from vigil.errors import VigilError
from vigil.metrics.promql import PromQLError, Sample, compile_expr, evaluate
from vigil.metrics.promql.regex import translate
from vigil.metrics.series import STALE_NAN
from vigil.metrics.store import SeriesStore

B = 1_700_000_000.0  # every sample time below is an offset from here, in seconds
NAN = math.nan
INF = math.inf


def _store() -> SeriesStore:
    store = SeriesStore(retention=10**9)

    def add(labels: dict[str, str], points: list[tuple[float, float]]) -> None:
        for t, v in points:
            store.append(labels, B + t, v)

    every15 = [15.0 * i for i in range(21)]  # 0, 15, …, 300
    add({"__name__": "requests_total", "job": "api", "status": "200"}, [(t, t / 1.5) for t in every15])
    add({"__name__": "requests_total", "job": "api", "status": "500"}, [(t, t / 7.5) for t in every15])
    add({"__name__": "requests_total", "job": "web", "status": "200"}, [(t, t / 15) for t in every15])
    add({"__name__": "resets_total"}, list(zip(every15, [0, 5, 10, 15, 3, 8], strict=False)))
    add({"__name__": "late_total"}, [(240 + 15.0 * i, 50 + 15.0 * i) for i in range(5)])
    add({"__name__": "late_small_total"}, [(240 + 15.0 * i, 5 + 15.0 * i) for i in range(5)])
    add({"__name__": "gauge"}, list(zip(every15, [3, 1, 4, 1, 5, 9, 2, 6], strict=False)))
    add({"__name__": "stale"}, [(0, 1), (15, 2), (30, 3), (45, 4), (60, STALE_NAN)])
    add({"__name__": "old"}, [(0, 7)])
    add({"__name__": "maybe", "a": "1"}, [(0, NAN)])
    add({"__name__": "maybe", "a": "2"}, [(0, 3)])
    for x in ("500", "1500", "\u0663", "a\n", "ABC", "abC", "abc"):
        add({"__name__": "m", "x": x}, [(0, 1)])
    add({"__name__": "m", "y": "1"}, [(0, 1)])
    for path, buckets in {
        "/a": {"0.1": 10, "0.5": 30, "1": 40, "+Inf": 50},
        "/b": {"0.1": 2, "0.5": 6, "1": 4, "2": 8, "+Inf": 10},  # the dip at le=1 gets evened out
        "/c": {"0.1": 1, "1": 2},  # no +Inf bucket
    }.items():
        for le, count in buckets.items():
            add({"__name__": "lat_bucket", "path": path, "le": le}, [(0, count)])
    cpu = {("i1", "user"): 2, ("i1", "idle"): 6, ("i2", "user"): 1}
    for (instance, mode), v in cpu.items():
        add({"__name__": "cpu", "instance": instance, "job": "api", "mode": mode}, [(0, v)])
    add({"__name__": "cores", "instance": "i1"}, [(0, 4)])
    add({"__name__": "cores", "instance": "i2"}, [(0, 2)])
    add({"__name__": "info", "instance": "i1", "version": "1.0"}, [(0, 1)])
    add({"__name__": "info", "instance": "i2", "version": "2.0"}, [(0, 1)])
    add({"__name__": "dup_a", "job": "x"}, [(0, 1), (15, 2)])
    add({"__name__": "dup_b", "job": "x"}, [(0, 1), (15, 2)])
    return store


STORE = _store()
Expected = list[tuple[dict[str, str], float]] | float


def _run(expr: str, at: float, **kwargs: float) -> list[Sample] | float:
    return evaluate(compile_expr(expr), B + at, STORE, **kwargs)


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-12)


def _check(expr: str, at: float, expected: Expected, **kwargs: float) -> None:
    got = _run(expr, at, **kwargs)
    if isinstance(expected, float):
        assert isinstance(got, float), f"{expr}: expected a scalar, got {got}"
        assert _same(got, expected), f"{expr}: {got} != {expected}"
        return
    assert isinstance(got, list), f"{expr}: expected a vector, got {got}"
    answer = {frozenset(s.labels.items()): s.value for s in got}
    want = {frozenset(labels.items()): value for labels, value in expected}
    assert answer.keys() == want.keys(), f"{expr}: labels {[s.labels for s in got]}"
    for key, value in want.items():
        assert _same(answer[key], value), f"{expr}: {dict(key)} is {answer[key]}, not {value}"


API_200 = {"job": "api", "status": "200"}
API_500 = {"job": "api", "status": "500"}
WEB_200 = {"job": "web", "status": "200"}


@pytest.mark.parametrize(
    ("expr", "at", "expected"),
    [
        # Window [7, 307] holds t=15..300: 20 samples 15 s apart. The 8 s and 7 s to the edges are
        # under 1.1 * 15 s, so the increase extrapolates from 285 s to the full 300 s.
        (
            "increase(requests_total[5m])",
            307,
            [(API_200, 190 * 300 / 285), (API_500, 38 * 300 / 285), (WEB_200, 20.0)],
        ),
        ("rate(requests_total[5m])", 307, [(API_200, 200 / 300), (API_500, 40 / 300), (WEB_200, 20 / 300)]),
        # A reset from 15 to 3 adds 15 back: 8 - 0 + 15 = 23 over exactly [0, 75].
        ("increase(resets_total[75s])", 75, [({}, 23.0)]),
        ("rate(resets_total[75s])", 75, [({}, 23 / 75)]),
        ("resets(resets_total[75s])", 75, [({}, 1.0)]),
        ("irate(resets_total[75s])", 75, [({}, (8 - 3) / 15)]),
        ("irate(resets_total[75s])", 60, [({}, 3 / 15)]),  # a reset: the new value over 15 s
        ("idelta(resets_total[75s])", 60, [({}, 3 - 15.0)]),
        # late_total starts at t=240 (value 50): 240 s from the window start is no reason to
        # extrapolate; zero would be 50 s back, still beyond 16.5 s, so the start gets half an
        # interval: 60 * (60 + 7.5) / 60.
        ("increase(late_total[5m])", 300, [({}, 67.5)]),
        # late_small_total would be 0 only 5 s before its first sample: extrapolate just that far.
        ("increase(late_small_total[5m])", 300, [({}, 65.0)]),
        ("increase(late_small_total[5m])", 316, [({}, 60 + 5 + 16.0)]),  # 16 s < 16.5 s: to the end
        ("increase(late_small_total[5m])", 317, [({}, 60 + 5 + 7.5)]),  # 17 s: half an interval
        # delta() neither corrects resets nor stops at zero: window [5, 110] holds 15..105.
        ("delta(gauge[105s])", 110, [({}, 5 * (90 + 10 + 5) / 90)]),
        ("delta(gauge[105s])", 105, [({}, 3.0)]),
        ("rate(old[5m])", 10, []),  # one sample: no rate
        # Offset 1m: window [-53, 247] holds t=0..240. The start is 53 s off, but these counters
        # start at 0, so extrapolation stops there; the end extends 7 s: * 247/240.
        (
            "rate(requests_total[5m] offset 1m)",
            307,
            [
                (API_200, 160 * 247 / 240 / 300),
                (API_500, 32 * 247 / 240 / 300),
                (WEB_200, 16 * 247 / 240 / 300),
            ],
        ),
    ],
)
def test_rate_increase_and_delta_extrapolate_as_prometheus(expr: str, at: float, expected: Expected) -> None:
    _check(expr, at, expected)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("avg_over_time(gauge[105s])", [({}, 31 / 8)]),
        ("sum_over_time(gauge[105s])", [({}, 31.0)]),
        ("min_over_time(gauge[105s])", [({}, 1.0)]),
        ("max_over_time(gauge[105s])", [({}, 9.0)]),
        ("count_over_time(gauge[105s])", [({}, 8.0)]),
        # sorted 1 1 2 3 4 5 6 9: rank 0.5 * 7 = 3.5 → halfway between 3 and 4
        ("quantile_over_time(0.5, gauge[105s])", [({}, 3.5)]),
        ("quantile_over_time(0.9, gauge[105s])", [({}, 6 * 0.7 + 9 * 0.3)]),
        ("quantile_over_time(2, gauge[105s])", [({}, INF)]),
        ("stdvar_over_time(gauge[105s])", [({}, 52.875 / 8)]),
        ("stddev_over_time(gauge[105s])", [({}, math.sqrt(52.875 / 8))]),
        ("changes(gauge[105s])", [({}, 7.0)]),
        ("last_over_time(gauge[105s])", [({"__name__": "gauge"}, 6.0)]),  # keeps the name
        ("present_over_time(gauge[105s])", [({}, 1.0)]),
        ("absent_over_time(gauge[105s])", []),
        ('absent_over_time(nope{job="a", x=~"y"}[1m])', [({"job": "a"}, 1.0)]),
    ],
)
def test_over_time_functions_aggregate_each_window(expr: str, expected: Expected) -> None:
    _check(expr, 105, expected)


@pytest.mark.parametrize(
    ("expr", "at", "expected", "lookback"),
    [
        ("stale", 50, [({"__name__": "stale"}, 4.0)], 300),
        ("stale", 60, [], 300),  # the newest sample is a stale marker: gone at once
        ("count_over_time(stale[1m])", 60, [({}, 4.0)], 300),  # markers are not samples
        ("old", 300, [({"__name__": "old"}, 7.0)], 300),  # exactly 5 minutes old: still there
        ("old", 300.001, [], 300),
        ("old", 60, [({"__name__": "old"}, 7.0)], 60),
        ("old", 61, [], 60),
        ("gauge offset 30s", 105, [({"__name__": "gauge"}, 9.0)], 300),
        ("gauge offset -15s", 90, [({"__name__": "gauge"}, 6.0)], 300),
        ('requests_total{job="web"}', 22.5, [({"__name__": "requests_total", **WEB_200}, 1.0)], 300),
    ],
)
def test_instant_selectors_look_back_and_honour_staleness(
    expr: str, at: float, expected: Expected, lookback: float
) -> None:
    _check(expr, at, expected, lookback=lookback)


def _m(x: str | None) -> dict[str, str]:
    return {"__name__": "m", "x": x} if x is not None else {"__name__": "m", "y": "1"}


ALL_X = ["500", "1500", "\u0663", "a\n", "ABC", "abC", "abc"]


@pytest.mark.parametrize(
    ("selector", "matched"),
    [
        ('m{x="500"}', ["500"]),
        ('m{x!="500"}', [x for x in ALL_X if x != "500"] + [None]),
        ('m{x=""}', [None]),  # a missing label equals the empty string
        ('m{x!=""}', ALL_X),
        ('m{x=~"5.."}', ["500"]),  # anchored: not 1500
        # . does not match a newline in Go (2.42 compiles without the s flag): "a\n" is out.
        ('m{x=~".*"}', [x for x in ALL_X if x != "a\n"] + [None]),
        ('m{x=~".+"}', [x for x in ALL_X if x != "a\n"]),
        ('m{x!~".+"}', ["a\n", None]),
        ('m{x=~"\\\\d+"}', ["500", "1500"]),  # \d is ASCII in Go: not the Arabic-Indic three
        ('m{x=~"[[:digit:]]+"}', ["500", "1500"]),
        ('m{x=~"a$\\n"}', []),  # $ is the end of the text in Go, not "before a final newline"
        ('m{x=~"(?i)abc"}', ["ABC", "abC", "abc"]),
        ('m{x=~"ab(?i)c"}', ["abC", "abc"]),
        ('m{x=~"a\\n|ABC"}', ["a\n", "ABC"]),
    ],
)
def test_label_matchers_select_as_prometheus_does(selector: str, matched: list[str | None]) -> None:
    _check(selector, 10, [(_m(x), 1.0) for x in matched])


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("x{,3}", "x{,3}", True),  # no repetition in Go
        ("[[:alpha:]_]+", "ab_c", True),
        ("\\w+", "\u00e9", False),
        ("a\\b", "a", True),
        ("\\x{41}", "A", True),
        ("[a-c-e]", "-", True),
        ("(?i)a|b", "B", True),
        ("a(?i)b|c", "C", True),  # the flag holds to the end of the group, across |
        ("a(?i)b|c", "aB", True),
        # Unicode categories and scripts, as RE2 names them.
        ("\\pL+", "h\u00e9llo", True),
        ("\\pL+", "h3", False),
        ("\\PL+", "123", True),
        ("\\p{Greek}+", "\u03b1\u03b2", True),
        ("\\p{^Greek}+", "ab", True),
        ("[\\p{Lu}\\d]+", "A1", True),
        ("[\\p{Lu}\\d]+", "a1", False),
        ("[^\\pN]", "7", False),
    ],
)
def test_regexes_are_translated_with_re2_meaning(pattern: str, text: str, matches: bool) -> None:
    assert (regex.fullmatch(translate(pattern), text) is not None) is matches


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("\\p{Klingon}", "unknown Unicode class 'Klingon'"),
        ("\\p{L", "without its closing"),
        ("\\p", "without a class name"),
        ("(?U)a+", "the U (ungreedy) flag"),
    ],
)
def test_regexes_with_no_python_meaning_are_refused_by_name(pattern: str, message: str) -> None:
    with pytest.raises(PromQLError, match=re.escape(message)):
        translate(pattern)


LAT_A = {"path": "/a"}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # /a: rank 25 falls in (0.1, 0.5] holding 20: 0.1 + 0.4 * 15/20. /b: evened-out counts
        # 2 6 6 8 10, rank 5 in (0.1, 0.5]: 0.1 + 0.4 * 3/4. /c: no +Inf bucket, NaN.
        ("histogram_quantile(0.5, lat_bucket)", [(LAT_A, 0.4), ({"path": "/b"}, 0.4), ({"path": "/c"}, NAN)]),
        # /b at rank 7: in (1, 2] after evening out (1 + 1 * 1/2); the raw counts would give 1.75.
        ('histogram_quantile(0.7, lat_bucket{path="/b"})', [({"path": "/b"}, 1.5)]),
        ('histogram_quantile(0.95, lat_bucket{path="/a"})', [(LAT_A, 1.0)]),  # +Inf bucket: next bound
        ('histogram_quantile(0.05, lat_bucket{path="/a"})', [(LAT_A, 0.1 * 2.5 / 10)]),  # from 0 up to 0.1
        ('histogram_quantile(1.5, lat_bucket{path="/a"})', [(LAT_A, INF)]),
        ('histogram_quantile(-1, lat_bucket{path="/a"})', [(LAT_A, -INF)]),
        # Summed: 12 36 44 8 60 → evened out 12 36 44 44 60; rank 30 in (0.1, 0.5]: 0.1 + 0.4 * 18/24.
        ('histogram_quantile(0.5, sum by (le) (lat_bucket{path=~"/a|/b"}))', [({}, 0.1 + 0.4 * 18 / 24)]),
        ("histogram_quantile(0.5, cpu)", []),  # no le label: not a histogram
    ],
)
def test_histogram_quantile_interpolates_within_buckets(expr: str, expected: Expected) -> None:
    _check(expr, 10, expected)


I1U = {"instance": "i1", "job": "api", "mode": "user"}
I1I = {"instance": "i1", "job": "api", "mode": "idle"}
I2U = {"instance": "i2", "job": "api", "mode": "user"}


def _named(name: str, labels: dict[str, str]) -> dict[str, str]:
    return {"__name__": name, **labels}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("sum(cpu)", [({}, 9.0)]),
        ("sum by (instance) (cpu)", [({"instance": "i1"}, 8.0), ({"instance": "i2"}, 1.0)]),
        (
            "sum without (mode) (cpu)",
            [({"instance": "i1", "job": "api"}, 8.0), ({"instance": "i2", "job": "api"}, 1.0)],
        ),
        ("avg(cpu)", [({}, 3.0)]),
        ("count by (job) (cpu)", [({"job": "api"}, 3.0)]),
        ("min by (mode) (cpu)", [({"mode": "user"}, 1.0), ({"mode": "idle"}, 6.0)]),
        ("max(cpu)", [({}, 6.0)]),
        ("max(maybe)", [({}, 3.0)]),  # NaN loses to any number
        ("stddev(cpu)", [({}, math.sqrt(14 / 3))]),
        ("stdvar by (instance) (cpu)", [({"instance": "i1"}, 4.0), ({"instance": "i2"}, 0.0)]),
        ("group by (mode) (cpu)", [({"mode": "user"}, 1.0), ({"mode": "idle"}, 1.0)]),
        ("quantile(0.5, cpu)", [({}, 2.0)]),
        ("topk(1, cpu)", [(_named("cpu", I1I), 6.0)]),  # topk keeps the series as they are
        ("bottomk(2, cpu)", [(_named("cpu", I2U), 1.0), (_named("cpu", I1U), 2.0)]),
        ("topk by (instance) (1, cpu)", [(_named("cpu", I1I), 6.0), (_named("cpu", I2U), 1.0)]),
        ("topk(0, cpu)", []),
        ("sum by (instance) (nope)", []),
        ("count(cpu) by (instance)", [({"instance": "i1"}, 2.0), ({"instance": "i2"}, 1.0)]),
    ],
)
def test_aggregations_group_by_and_without(expr: str, expected: Expected) -> None:
    _check(expr, 10, expected)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("cpu * 2", [(I1U, 4.0), (I1I, 12.0), (I2U, 2.0)]),  # arithmetic drops the name
        ("cpu > 1", [(_named("cpu", I1U), 2.0), (_named("cpu", I1I), 6.0)]),  # a filter keeps it
        ("1 < cpu", [(_named("cpu", I1U), 2.0), (_named("cpu", I1I), 6.0)]),
        ("cpu > bool 1", [(I1U, 1.0), (I1I, 1.0), (I2U, 0.0)]),
        ("-cpu", [(I1U, -2.0), (I1I, -6.0), (I2U, -1.0)]),
        ("cpu / 0", [(I1U, INF), (I1I, INF), (I2U, INF)]),
        ("cpu % 4", [(I1U, 2.0), (I1I, 2.0), (I2U, 1.0)]),
        ("cpu ^ 2", [(I1U, 4.0), (I1I, 36.0), (I2U, 1.0)]),
        ("cpu / on(instance) group_left cores", [(I1U, 0.5), (I1I, 1.5), (I2U, 0.5)]),
        (
            "cpu * on(instance) group_left(version) info",
            [
                ({**I1U, "version": "1.0"}, 2.0),
                ({**I1I, "version": "1.0"}, 6.0),
                ({**I2U, "version": "2.0"}, 1.0),
            ],
        ),
        ("cores / on(instance) group_right cpu", [(I1U, 2.0), (I1I, 4 / 6), (I2U, 2.0)]),
        (
            "sum by (instance) (cpu) + on(instance) cores",
            [({"instance": "i1"}, 12.0), ({"instance": "i2"}, 3.0)],
        ),
        ("sum by (instance) (cpu) > bool cores", [({"instance": "i1"}, 1.0), ({"instance": "i2"}, 0.0)]),
        ("cpu + cores", []),  # no label set in common
        ('cpu and on(instance) cores{instance="i1"}', [(_named("cpu", I1U), 2.0), (_named("cpu", I1I), 6.0)]),
        ('cpu unless on(instance) cores{instance="i1"}', [(_named("cpu", I2U), 1.0)]),
        (
            'cores or on(instance) cpu{mode="idle"}',
            [(_named("cores", {"instance": "i1"}), 4.0), (_named("cores", {"instance": "i2"}), 2.0)],
        ),
        (
            "cpu atan2 cpu",
            [
                (_named("cpu", I1U), math.pi / 4),
                (_named("cpu", I1I), math.pi / 4),
                (_named("cpu", I2U), math.pi / 4),
            ],
        ),
    ],
)
def test_binary_operators_match_vectors_as_prometheus(expr: str, expected: Expected) -> None:
    _check(expr, 10, expected)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("2 > bool 1", 1.0),
        ("1 / 0", INF),
        ("-1 / 0", -INF),
        ("0 / 0", NAN),
        ("5 % 0", NAN),
        ("(-8) ^ (1/3)", NAN),
        ("2 ^ 10", 1024.0),
        ("0 ^ -1", INF),
        ("time()", B + 10.123),
        ("time() - 60", B - 49.877),
        ('scalar(cores{instance="i1"})', 4.0),
        ("scalar(cores)", NAN),  # two elements
        ("-(1 + 2)", -3.0),
    ],
)
def test_scalar_expressions_follow_go_float_rules(expr: str, expected: float) -> None:
    got = evaluate(compile_expr(expr), B + 10.123, STORE)
    assert isinstance(got, float)
    assert _same(got, expected), f"{expr}: {got}"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("absent(nope)", [({}, 1.0)]),
        ('absent(nope{job="a", x=~"y"})', [({"job": "a"}, 1.0)]),
        ('absent(nope{job="a", job="b"})', [({}, 1.0)]),  # a label matched twice is left out
        ("absent(sum(nope))", [({}, 1.0)]),
        ("absent(cpu)", []),
        ("abs(-cpu)", [(I1U, 2.0), (I1I, 6.0), (I2U, 1.0)]),
        ("clamp_max(cpu, 3)", [(I1U, 2.0), (I1I, 3.0), (I2U, 1.0)]),
        ("clamp_min(cpu, 3)", [(I1U, 3.0), (I1I, 6.0), (I2U, 3.0)]),
        ("clamp(cpu, 2, 5)", [(I1U, 2.0), (I1I, 5.0), (I2U, 2.0)]),
        ("clamp(cpu, 5, 2)", []),
        ("round(cpu / 4, 0.5)", [(I1U, 0.5), (I1I, 1.5), (I2U, 0.5)]),  # 0.25 rounds up to 0.5
        ("sqrt(-cpu)", [(I1U, NAN), (I1I, NAN), (I2U, NAN)]),
        ("ln(cpu - cpu)", [(I1U, -INF), (I1I, -INF), (I2U, -INF)]),
        ("floor(cpu / 4)", [(I1U, 0.0), (I1I, 1.0), (I2U, 0.0)]),
        ("vector(1)", [({}, 1.0)]),
        (
            "sort_desc(cores)",
            [(_named("cores", {"instance": "i1"}), 4.0), (_named("cores", {"instance": "i2"}), 2.0)],
        ),
    ],
)
def test_functions_compute_and_drop_the_metric_name(expr: str, expected: Expected) -> None:
    _check(expr, 10, expected)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("sum(", "PromQL syntax error"),
        ("sort_by_label(cpu, 'a')", "unsupported function 'sort_by_label'"),
        ("label_replace(cpu, '1a', '$1', 'b', '(.*)')", "invalid label name '1a' in label_replace()"),
        ("label_replace(cpu, 'a', '$1', 'b', '(.*')", "invalid regular expression in label_replace()"),
        ("label_join(cpu, 'a', '-', 'b-c')", "invalid label name 'b-c' in label_join()"),
        ('count_values("a-b", cpu)', "invalid label name 'a-b' in count_values()"),
        ("cpu[5m:1m]", "unsupported: a range vector as the result"),
        ("cpu @ -100", "unsupported: an @ time before 1970"),
        ("max_over_time(cpu[1d:1s])", "subquery of more than 11,000 steps"),
        ("cpu[5m]", "unsupported: a range vector as the result"),
        ('"text"', "unsupported: a string as the result"),
        ("limitk(2, cpu)", "unsupported aggregation 'limitk'"),
        ('cpu{a=~"[[:^alpha:]]"}', "negated class"),
        ('cpu{a=~"(?U)a+"}', "the U (ungreedy) flag"),
    ],
)
def test_unsupported_or_invalid_expressions_are_errors_naming_the_problem(expr: str, message: str) -> None:
    with pytest.raises(PromQLError, match=re.escape(message)) as caught:
        compile_expr(expr)
    assert isinstance(caught.value, VigilError)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "expr",
    [
        "+".join(["x"] * 5000),
        "(" * 20000 + "1" + ")" * 20000,
        "-" * 20000 + "x",
        "# '\n" + " or ".join(["x"] * 5000),
    ],
)
def test_expressions_deep_enough_to_crash_the_parser_are_refused_before_it(expr: str) -> None:
    # The Rust parser overflows the machine stack (a segfault, not an exception) on these.
    with pytest.raises(PromQLError, match="expression too complex"):
        compile_expr(expr)


def test_the_complexity_bound_leaves_room_for_twenty_error_ratio_rules_in_one() -> None:
    rule = " or ".join(
        f'sum by (path) (rate(http_requests_total{{status=~"5..", path="/{i}"}}[5m])) '
        f"/ sum by (path) (rate(http_requests_total[5m])) > 0.05"
        for i in range(20)
    )
    compile_expr(rule)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('rate({__name__=~"dup_.*"}[1m])', "vector cannot contain metrics with the same labelset"),
        ('abs({__name__=~"dup_.*"})', "vector cannot contain metrics with the same labelset"),
        ("cpu + on(instance) cores", "many-to-one matching must be explicit"),
        ("cores + on(instance) cpu", "many-to-many matching not allowed"),
        ("cpu / on(instance) group_left cpu", "many-to-many matching not allowed"),
        ("topk(scalar(nope), cpu)", "overflows int64"),
    ],
)
def test_ambiguous_results_are_errors_not_a_pick(expr: str, message: str) -> None:
    with pytest.raises(PromQLError, match=re.escape(message)):
        _run(expr, 20)


def test_series_that_differ_by_name_alone_are_fine_until_the_name_goes() -> None:
    _check(
        '{__name__=~"dup_.*"}',
        20,
        [(_named("dup_a", {"job": "x"}), 2.0), (_named("dup_b", {"job": "x"}), 2.0)],
    )


def test_a_compiled_expression_evaluates_at_any_time() -> None:
    compiled = compile_expr("sum(requests_total)")
    for at, total in [(15, 10 + 2 + 1.0), (30, 20 + 4 + 2.0)]:
        result = evaluate(compiled, B + at, STORE)
        assert isinstance(result, list)
        assert [s.value for s in result] == [total]
    assert compile_expr("1 + 1").returns_scalar and not compiled.returns_scalar
