"""Templates from the stack file run sandboxed and bounded: in what they read, how long they run
and how much they write."""

from __future__ import annotations

import time

import pytest

from vigil.notify.message_template import MAX_SOURCE, MessageTemplate, TemplateFault


def template(source: str, **bounds: float) -> MessageTemplate:
    return MessageTemplate(source, name="t", known=("text", "incident"), **bounds)  # type: ignore[arg-type]


def test_a_template_renders_with_its_names_and_the_cell_filter() -> None:
    made = template("{{ incident.title }}: {{ text | cell }}")
    assert made.render({"incident": {"title": "API down"}, "text": "a | b\nc"}) == "API down: a \\| b c"


def test_python_internals_are_out_of_reach() -> None:
    made = template("{{ incident.__class__.__mro__ }}")
    with pytest.raises(TemplateFault, match=r"^t: SecurityError: access to attribute .__class__."):
        made.render({"incident": {}, "text": ""})


def test_a_runaway_loop_is_stopped_at_its_budget() -> None:
    loops = "{% for a in text %}{% for b in text %}{% for c in text %}{% endfor %}{% endfor %}{% endfor %}"
    made = template(loops, budget=0.3)
    started = time.monotonic()
    with pytest.raises(TemplateFault, match=r"rendering took more than 0\.3s; stopped"):
        made.render({"incident": {}, "text": "x" * 10_000})
    assert time.monotonic() - started < 2.0


def test_output_is_cut_at_its_limit_and_range_is_capped() -> None:
    made = template("{% for i in range(900) %}{{ text }}{% endfor %}", limit=1_000)
    text = made.render({"incident": {}, "text": "abcdefghij"})
    assert len(text) == 1_000 and text.endswith("\n…(cut)")
    with pytest.raises(TemplateFault, match=r"range\(\) of 5,000 items; a template may count to 1,000"):
        template("{% for i in range(5000) %}{% endfor %}").render({"incident": {}, "text": ""})


def test_a_template_too_long_or_naming_unknown_things_is_refused_when_compiled() -> None:
    with pytest.raises(TemplateFault, match="characters; a template may have"):
        template("x" * (MAX_SOURCE + 1))
    with pytest.raises(TemplateFault, match="unknown name 'secrets'"):
        template("{{ secrets }}")


def test_the_trace_of_a_debugger_or_coverage_is_given_back_after_a_render() -> None:
    import sys

    def tracer(*_: object) -> None:
        return None

    sys.settrace(tracer)  # type: ignore[arg-type]
    try:
        template("{{ text }}").render({"incident": {}, "text": "x"})
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)
