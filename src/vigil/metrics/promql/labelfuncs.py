"""Functions that rename, count or order series rather than compute values: ``label_replace``,
``label_join``, ``count_values``, ``sort`` and ``sort_desc``. Ports of Prometheus 2.42's
``funcLabelReplace``, ``funcLabelJoin``, ``funcSort*`` and the ``COUNT_VALUES`` case of its
``aggregation``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Sequence

import regex

from vigil.metrics.promql.gofloat import format_float
from vigil.metrics.promql.model import EvalContext, Labels, PromQLError, Vec, VectorNode, ensure_unique
from vigil.metrics.promql.regex import translate

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Go's Regexp.Expand: $$, ${name} and $name (the longest run of word characters).
_TEMPLATE = re.compile(r"\$(?:(\$)|\{(\w+)\}|(\w+))")


def check_label_name(name: str, where: str) -> str:
    if not LABEL_NAME.fullmatch(name):
        raise PromQLError(f"invalid label name {name!r} in {where}")
    return name


def _with(labels: Labels, name: str, value: str) -> dict[str, str]:
    """``labels`` with ``name`` set to ``value``, or removed when ``value`` is empty."""
    out = {k: v for k, v in labels.items() if k != name}
    if value:
        out[name] = value
    return out


def _expand(template: str, found: regex.Match[str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        ref = m.group(2) or m.group(3)
        try:
            group = found.group(int(ref) if ref.isdigit() else ref)
        except IndexError:
            return ""  # Go expands an unknown group to nothing
        return group or ""

    return _TEMPLATE.sub(one, template)


class LabelReplace(VectorNode):
    __slots__ = ("arg", "dst", "pattern", "replacement", "src")

    def __init__(self, arg: VectorNode, dst: str, replacement: str, src: str, pattern: str) -> None:
        self.arg = arg
        self.dst = check_label_name(dst, "label_replace()")
        self.replacement = replacement
        self.src = src
        try:
            self.pattern = regex.compile(f"(?:{translate(pattern)})")
        except (regex.error, PromQLError) as err:
            raise PromQLError(f"invalid regular expression in label_replace(): {err}") from None

    def compute(self, ctx: EvalContext) -> Vec:
        out: Vec = []
        for labels, value in self.arg.vector(ctx):
            found = self.pattern.fullmatch(labels.get(self.src, ""))
            replaced = labels if found is None else _with(labels, self.dst, _expand(self.replacement, found))
            out.append((replaced, value))
        return ensure_unique(out)


class LabelJoin(VectorNode):
    __slots__ = ("arg", "dst", "separator", "sources")

    def __init__(self, arg: VectorNode, dst: str, separator: str, sources: Sequence[str]) -> None:
        self.arg = arg
        self.dst = check_label_name(dst, "label_join()")
        self.separator = separator
        self.sources = [check_label_name(s, "label_join()") for s in sources]

    def compute(self, ctx: EvalContext) -> Vec:
        out: Vec = []
        for labels, value in self.arg.vector(ctx):
            joined = self.separator.join(labels.get(s, "") for s in self.sources)
            out.append((_with(labels, self.dst, joined), value))
        return ensure_unique(out)


class CountValues(VectorNode):
    """``count_values("label", v)``: per group, how many series have each value, the value (as Go
    prints it) in ``label``."""

    __slots__ = ("arg", "group_key", "label", "result_labels")

    def __init__(
        self,
        arg: VectorNode,
        label: str,
        grouping: tuple[Callable[[Labels], Hashable], Callable[[Labels], Labels]],
    ) -> None:
        self.arg = arg
        self.label = check_label_name(label, "count_values()")
        self.group_key, self.result_labels = grouping

    def compute(self, ctx: EvalContext) -> Vec:
        counts: dict[Hashable, tuple[Labels, int]] = {}
        for labels, value in self.arg.vector(ctx):
            labelled = _with(labels, self.label, format_float(value))
            key = self.group_key(labelled)
            first = counts.get(key)
            counts[key] = (labelled, 1) if first is None else (first[0], first[1] + 1)
        return [(self.result_labels(labels), float(n)) for labels, n in counts.values()]


class Sort(VectorNode):
    """``sort`` (ascending) and ``sort_desc``; NaN last either way."""

    __slots__ = ("arg", "descending")

    def __init__(self, arg: VectorNode, *, descending: bool) -> None:
        self.arg = arg
        self.descending = descending

    def compute(self, ctx: EvalContext) -> Vec:
        vec = self.arg.vector(ctx)
        sign = -1.0 if self.descending else 1.0
        return sorted(vec, key=lambda s: (math.isnan(s[1]), sign * s[1] if not math.isnan(s[1]) else 0.0))
