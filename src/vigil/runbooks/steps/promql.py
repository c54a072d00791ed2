"""``promql``/``prometheus`` steps: each expression evaluated at the clock's now, its series and
values printed.

Expressions are separated by blank lines or comment lines; lines in between join into one
expression. Inside ``vigil up`` (the dashboard, the API) they run over Vigil's own series store,
as alert rules do. From the shell (``vigil runbook run``) there is no series store: with
``prometheus:`` in the stack file they go to that Prometheus, else the step fails and says
where it can run.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any

import httpx

from vigil.alerting.remote import instant_query, vector_samples
from vigil.errors import VigilError
from vigil.metrics.promql import compile_expr, evaluate
from vigil.runbooks.model import Step
from vigil.runbooks.outcome import StepStatus
from vigil.runbooks.steps.base import Ran, Setting
from vigil.runbooks.transcript import Transcript

MAX_SERIES = 200
MAX_EXPRESSIONS = 50
DEFAULT_TIMEOUT = 30.0
NO_SERIES = (
    "PromQL steps read the metrics a running `vigil up` scrapes: run this step from its dashboard "
    "or API, or set prometheus: in the stack file to query that Prometheus"
)
Series = list[tuple[Mapping[str, str], float]]


def expressions(code: str) -> list[str]:
    found: list[str] = []
    current: list[str] = []
    for line in [*code.splitlines(), ""]:
        text = line.strip()
        if not text or text.startswith(("#", "//")):
            if current:
                found.append(" ".join(current))
                current = []
        else:
            current.append(text)
    return found


class PromqlStep:
    def missing(self, step: Step, setting: Setting) -> list[str]:
        found = expressions(step.code)
        if not found:
            return ["the block holds no PromQL expression"]
        if len(found) > MAX_EXPRESSIONS:
            return [f"{len(found)} expressions in one block; at most {MAX_EXPRESSIONS}"]
        return []

    def command(self, step: Step, setting: Setting) -> str:
        return step.code

    async def run(self, step: Step, setting: Setting, out: Transcript) -> Ran:
        remote = setting.stack.model.prometheus if setting.series is None else None
        if setting.series is None and remote is None:
            out.line(NO_SERIES)
            return Ran.failed(NO_SERIES)
        at = setting.clock.now().timestamp()
        limit = step.attributes.timeout or DEFAULT_TIMEOUT
        for number, expr in enumerate(expressions(step.code), 1):
            out.line(f"=> {expr}")
            try:
                async with asyncio.timeout(limit):
                    result = await _evaluate(expr, at, setting, remote)
            except TimeoutError:
                return Ran(StepStatus.TIMED_OUT, None, f"expression {number}: no answer within {limit:g}s")
            except VigilError as err:
                out.line(f"error: {err}")
                return Ran.failed(f"expression {number}: {err}")
            _print(result, out, ordered=_ordered(expr))
        return Ran(StepStatus.SUCCEEDED, 0)


def _ordered(expr: str) -> bool:
    """Whether ``expr``'s answer comes in Prometheus' order (``sort``, ``topk``, …), kept as it is."""
    try:
        return compile_expr(expr).ordered
    except VigilError:  # a remote Prometheus may know more PromQL than Vigil does
        return False


async def _evaluate(expr: str, at: float, setting: Setting, remote: str | None) -> Series | float:
    if setting.series is not None:
        result = evaluate(compile_expr(expr), at, setting.series)
        return result if isinstance(result, float) else [(s.labels, s.value) for s in result]
    if remote is None:
        raise VigilError(NO_SERIES)
    client = setting.http or httpx.AsyncClient()
    try:
        data: dict[str, Any] = await instant_query(remote, client, expr, at)
    finally:
        if setting.http is None:
            await client.aclose()
    if data["resultType"] == "scalar":
        return float(data["result"][1])
    if data["resultType"] != "vector":
        raise VigilError(f"a {data['resultType']} answer; a step shows instant vectors and scalars")
    return vector_samples(data)


def _print(result: Series | float, out: Transcript, *, ordered: bool) -> None:
    if isinstance(result, float):
        out.line(f"scalar {_number(result)}")
        return
    if not result:
        out.line("(no series)")
        return
    shown = result if ordered else sorted(result, key=lambda s: sorted(s[0].items()))
    for labels, value in shown[:MAX_SERIES]:
        out.line(f"{_series(labels)} {_number(value)}")
    if len(result) > MAX_SERIES:
        out.line(f"(first {MAX_SERIES} of {len(result)} series shown)")
    else:
        out.line(f"({len(result)} series)")


def _series(labels: Mapping[str, str]) -> str:
    name = labels.get("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}"


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"
