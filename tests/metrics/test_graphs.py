"""A rule's graph from the series store: one time axis, a line per label set, bounded lines."""

from __future__ import annotations

from vigil.metrics import graphs
from vigil.metrics.promql import compile_expr
from vigil.metrics.store import SeriesStore


async def test_an_expression_graph_has_a_value_or_none_at_every_step() -> None:
    store = SeriesStore()
    for t in range(0, 600, 15):
        store.append({"__name__": "load", "host": "a"}, float(t), t / 600)
    store.append({"__name__": "load", "host": "b"}, 0.0, 1.0)  # stale after the 5-minute lookback
    graph = await graphs.expression_graph(compile_expr("load"), store, 0.0, 600.0, 11)
    assert graph.times == [float(t) for t in range(0, 601, 60)]
    a, b = sorted(graph.lines, key=lambda line: line.name)
    assert a.name == '{__name__="load", host="a"}' and a.values[1] == 60 / 600
    assert b.values[:6] == [1.0] * 6 and b.values[6:] == [None] * 5


async def test_a_scalar_expression_is_one_line() -> None:
    graph = await graphs.expression_graph(compile_expr("2 * 3"), SeriesStore(), 0.0, 60.0, 4)
    assert [line.name for line in graph.lines] == ["value"] and graph.lines[0].values == [6.0] * 4


async def test_at_most_max_lines_are_drawn_and_the_rest_counted() -> None:
    store = SeriesStore()
    for i in range(graphs.MAX_LINES + 5):
        store.append({"__name__": "load", "host": f"h{i}"}, 10.0, float(i))
    graph = await graphs.expression_graph(compile_expr("load"), store, 0.0, 60.0, 10)
    assert len(graph.lines) == graphs.MAX_LINES and graph.left_out == 5
    assert graph.summary()[0]["last"] is not None


async def test_the_newest_point_is_at_the_end_of_the_window_whatever_the_step() -> None:
    store = SeriesStore()
    store.append({"__name__": "load"}, 10_795.0, 1.0)  # five seconds before the end
    graph = await graphs.expression_graph(compile_expr("load"), store, 0.0, 10_800.0, 500)
    assert graph.times[-1] == 10_800.0 and graph.lines[0].values[-1] == 1.0
    assert graph.times[1] - graph.times[0] == 22.0 and len(graph.times) <= 500
