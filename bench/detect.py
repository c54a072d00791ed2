"""Detection latency: time from breaking a target to the page arriving at a webhook receiver.

One fixture process (``bench/receiver.py``) serves the target's ``/health`` and
receives the webhooks. Each stack in turn (never two at once: the machine has
2 cores) monitors that target at the same settings: probe every 1 s, page
after 2 consecutive failures. Per trial the harness waits a random moment,
flips the target to 500, waits for the stack's page, flips it back and waits
for the resolved notice before the next trial.

* ``vigil``: ``vigil up`` with one ``every: 1s``, ``alert: {after: 2}`` check
  and a webhook channel.
* ``prometheus``: prometheus + blackbox exporter + alertmanager (Debian),
  1 s scrape/evaluation, ``probe_success == 0`` ``for: 2s``, webhook receiver.
* ``monit``: monit (Debian), ``set daemon 1``, HTTP check ``for 2 cycles then
  exec`` a curl POST.

Latency is ``page arrival - break flip``, both stamped by the fixture's clock.
The floor is what any prober at this setting must spend: the wait for its next
probe (uniform over one interval, since the break moment is random) plus one
interval to the second failing probe, so 1-2 s, median 1.5 s. "Beyond floor"
is ``page arrival - first failing answer served - one interval``: the time a
stack adds on top of the probing schedule itself.

    python bench/detect.py [--trials 30] [--only vigil|prometheus|monit] [--json]

Peers: ``scripts/install-peers.sh``. A full run (30 trials x 3 stacks) takes
about 7-8 minutes (~5 s per trial); ``--trials 5`` is a quick look.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import signal
import statistics
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script (python bench/detect.py): make `bench` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.detect_peers import monit_stack, prometheus_stack
from bench.detect_stack import STARTUP_S, Hook, Stack, body_has, require, workspace
from bench.peer import _HTTP, HOST, _free_port, _spawn, _stop, _wait_http
from bench.receiver import start_receiver

log = logging.getLogger("bench.detect")

INTERVAL_S = 1.0  # every: 1s / scrape+eval 1s / set daemon 1
AFTER = 2  # consecutive failures before a page
STACKS = ("vigil", "prometheus", "monit")
PAGE_TIMEOUT_S = 30.0  # a stack that has not paged by then missed the trial
RECOVERY_TIMEOUT_S = 30.0
# After a resolved notice the stack has seen the target healthy; one more
# interval lets any trailing notification (Alertmanager's group flush) drain.
SETTLE_S = 1.0

VIGIL_STACK = """\
notify:
  channels:
    bench: {{webhook: http://{host}:{port}/hook/vigil}}
  default: [bench]
engine: {{jitter: 1.0}}
services:
  target:
    checks:
      health:
        http: http://{host}:{port}/health
        every: {every}s
        timeout: 900ms
        alert: {{after: {after}, severity: P1}}
"""


class Fixture:
    """Client of the bench/receiver.py process: flip the target, read deliveries."""

    def __init__(self, port: int) -> None:
        self.base = f"http://{HOST}:{port}"

    def _call(self, path: str, *, post: bool = False, timeout_s: float = 10.0) -> Any:
        req = urllib.request.Request(self.base + path, method="POST" if post else "GET")
        with _HTTP.open(req, timeout=timeout_s) as resp:
            return json.load(resp)

    def flip(self, action: str) -> tuple[float, int]:
        """Break or heal the target; return the fixture's flip time and last hook seq."""
        body = self._call(f"/control/{action}", post=True)
        return float(body["t"]), int(body["seq"])

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self._call("/control/trial")
        return state

    def wait_hook(
        self, stack: Stack, wanted: Callable[[Hook], bool], after: int, timeout_s: float
    ) -> Hook | None:
        """First delivery to /hook/<stack.name> with seq > after that `wanted` accepts, or None."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            stack.check_alive()
            # Short long-polls: a stack that dies mid-wait is noticed within a second.
            qs = urllib.parse.urlencode({"after": after, "wait": f"{min(left, 1.0):.3f}"})
            body = self._call(f"/control/hooks?{qs}", timeout_s=15.0)
            for hook in body["hooks"]:
                if hook["stack"] == stack.name and wanted(hook):
                    return dict(hook)
            after = int(body["seq"])
        return None

    def wait_probes(self, stack: Stack, count: int, timeout_s: float) -> None:
        """Wait until the target has answered `count` more probes: the stack is probing it."""
        start = self.state()["probes"]
        deadline = time.monotonic() + timeout_s
        while self.state()["probes"] - start < count:
            stack.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{stack.name} did not probe the target in {timeout_s:.0f}s")
            time.sleep(0.1)


@dataclass
class Trial:
    latency_s: float  # page arrival - break flip
    seen_s: float | None  # first failing answer served - break flip: the wait for the next probe
    fails: int  # failing answers served before the page arrived
    sent_s: float | None = None  # Vigil only: page arrival - incident's opened_at (wall clocks)

    def beyond_floor(self, interval_s: float) -> float | None:
        """What the stack adds on top of its probe schedule (None if no failing answer was seen)."""
        return None if self.seen_s is None else self.latency_s - self.seen_s - interval_s


@dataclass
class StackResult:
    name: str
    trials: list[Trial] = field(default_factory=list)
    missed: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _opened_delay(hook: Hook) -> float | None:
    """Page arrival minus the incident's opened_at, when the body carries one."""
    body = hook.get("body")
    if not isinstance(body, dict):
        return None
    opened = body.get("opened_at") or (body.get("incident") or {}).get("opened_at")
    if not isinstance(opened, str):
        return None
    with contextlib.suppress(ValueError):
        return float(hook["wall"]) - datetime.fromisoformat(opened).timestamp()
    return None


def run_trials(stack: Stack, fx: Fixture, trials: int, rng: random.Random, result: StackResult) -> None:
    """Break/page/heal/resolve `trials` times; append to result (also what was done before a failure)."""
    # The stack must be probing before the first break, or trial 1 would also
    # time the stack's start-up.
    fx.wait_probes(stack, AFTER, STARTUP_S)
    for i in range(1, trials + 1):
        # Uniform over one interval on top of the settle time: the break lands at
        # a random phase of the stack's probe schedule.
        time.sleep(SETTLE_S + rng.uniform(0.0, INTERVAL_S))
        broke_at, seq = fx.flip("break")
        page = fx.wait_hook(stack, stack.is_page, seq, PAGE_TIMEOUT_S)
        state = fx.state()
        _, healed_seq = fx.flip("heal")
        if page is None:
            result.missed += 1
            log.warning("%s trial %d: no page within %.0fs", stack.name, i, PAGE_TIMEOUT_S)
        else:
            fails = [t for t in state["fails"] if t <= page["t"]]
            trial = Trial(
                latency_s=page["t"] - broke_at,
                seen_s=(fails[0] - broke_at) if fails else None,
                fails=len(fails),
                sent_s=_opened_delay(page),
            )
            result.trials.append(trial)
            log.info(
                "%s trial %d/%d: %.3fs (first failing answer after %s, %d before the page)",
                stack.name,
                i,
                trials,
                trial.latency_s,
                "-" if trial.seen_s is None else f"{trial.seen_s:.3f}s",
                trial.fails,
            )
        # Wait for the stack's own all-clear so the next trial starts from a
        # recovered stack (failure counters reset, incident/alert closed).
        recovered = fx.wait_hook(
            stack, stack.is_recovery, page["seq"] if page else healed_seq, RECOVERY_TIMEOUT_S
        )
        if recovered is None:
            raise TimeoutError(
                f"{stack.name}: no resolved notice within {RECOVERY_TIMEOUT_S:.0f}s of healing"
            )


def _vigil_bin() -> str:
    # The venv's entry point next to this interpreter, else whatever is on PATH.
    local = Path(sys.executable).with_name("vigil")
    if local.exists():
        return str(local)
    require("vigil")
    return "vigil"


@contextlib.contextmanager
def vigil_stack(fixture_port: int) -> Iterator[Stack]:
    """`vigil up` with one check of the target, paging /hook/vigil through a webhook channel."""
    vigil = _vigil_bin()
    with workspace("vigil-detect-vigil-") as (workdir, procs):
        stack_file = workdir / "vigil.yaml"
        stack_file.write_text(
            VIGIL_STACK.format(host=HOST, port=fixture_port, every=f"{INTERVAL_S:g}", after=AFTER)
        )
        port = _free_port()
        argv = [vigil, "up", "-c", str(stack_file), "--db", f"sqlite:///{workdir}/vigil.db"]
        procs.append(_spawn([*argv, "--port", str(port)], workdir, "vigil.log"))
        stack = Stack(
            name="vigil",
            workdir=workdir,
            procs=procs,
            logs=["vigil.log"],
            is_page=lambda hook: body_has(hook, "event", "triggered"),
            is_recovery=lambda hook: body_has(hook, "event", "resolved"),
        )
        try:
            # /readyz answers 503 until the store and scheduler are up; urllib
            # raises for it, so _wait_http keeps polling until a 200.
            _wait_http(f"http://{HOST}:{port}/readyz", procs[0], time.monotonic() + STARTUP_S, "vigil up")
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"vigil up did not become ready: {exc}\n{stack.log_tails()}") from exc
        yield stack


def _launcher(name: str, fixture_port: int, prom_for_s: float) -> AbstractContextManager[Stack]:
    if name == "vigil":
        return vigil_stack(fixture_port)
    if name == "prometheus":
        return prometheus_stack(fixture_port, INTERVAL_S, for_s=prom_for_s)
    return monit_stack(fixture_port, INTERVAL_S, cycles=AFTER)


def run(names: list[str], trials: int, seed: int | None, prom_for_s: float = 2.0) -> list[StackResult]:
    """Run every stack's trials in turn against one fixture; a stack that fails is reported, not fatal."""
    rng = random.Random(seed)
    results: list[StackResult] = []
    receiver, port = start_receiver()
    try:
        fx = Fixture(port)
        for name in names:
            result = StackResult(name)
            results.append(result)
            log.info("%s: starting", name)
            try:
                with _launcher(name, port, prom_for_s) as stack:
                    result.notes = stack.notes
                    run_trials(stack, fx, trials, rng, result)
            except (RuntimeError, TimeoutError, OSError) as exc:
                result.error = str(exc)
                log.error("%s: %s", name, exc)
            finally:
                # Whatever happened, the next stack starts from a healthy target. A dead
                # fixture must not hide the exception that is already on its way out.
                with contextlib.suppress(OSError):
                    fx.flip("heal")
    finally:
        _stop(receiver)
    return results


def pct(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), like numpy's default."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _row(name: str, values: list[float]) -> str:
    return f"{name:<11} {min(values):6.2f} {statistics.median(values):6.2f} {pct(values, 90):6.2f} {max(values):6.2f}"


def report(results: list[StackResult], trials: int) -> str:
    head = f"{'':<11} {'min':>6} {'median':>6} {'p90':>6} {'max':>6}"
    lines = [
        f"detection latency: break -> page at the receiver, seconds; {trials} trials per stack,",
        f"probe every {INTERVAL_S:g}s, page after {AFTER} consecutive failures",
        "",
        f"{head}   trials",
    ]
    medians: dict[str, float] = {}
    for r in results:
        if not r.trials:
            lines.append(f"{r.name:<11} failed: {(r.error or 'no trials').splitlines()[0]}")
            continue
        lat = [t.latency_s for t in r.trials]
        medians[r.name] = statistics.median(lat)
        done = f"{len(lat)}" + (f", {r.missed} missed" if r.missed else "")
        if r.error:
            done += f", stopped early: {r.error.splitlines()[0]}"
        lines.append(f"{_row(r.name, lat)}   {done}")
    # At a uniformly random break moment: U(0, interval) to the next probe, then
    # (AFTER - 1) more intervals to the deciding probe.
    floor = [INTERVAL_S * (AFTER - 1 + q) for q in (0.0, 0.5, 0.9, 1.0)]
    lines.append(
        f"{'floor':<11} {floor[0]:6.2f} {floor[1]:6.2f} {floor[2]:6.2f} {floor[3]:6.2f}"
        "   next probe + one interval"
    )
    if "vigil" in medians and len(medians) > 1:
        lines.append("")
        for name, median in medians.items():
            if name != "vigil":
                ratio = medians["vigil"] / median
                lines.append(
                    f"vigil / {name}, median vs median: {ratio:.2f} ({name} takes {1 / ratio:.1f}x as long)"
                )

    lines += ["", "beyond the floor (page - first failing answer served - one interval), seconds:"]
    lines.append(f"{head} {'p99':>6}")
    for r in results:
        beyond = [b for t in r.trials if (b := t.beyond_floor(INTERVAL_S)) is not None]
        if beyond:
            lines.append(f"{_row(r.name, beyond)} {pct(beyond, 99):6.2f}")
    lines.append("(p99 of a few dozen trials is interpolated next to the maximum)")

    lines.append("")
    for r in results:
        if r.trials:
            fails = [t.fails for t in r.trials]
            lines.append(
                f"{r.name}: failing answers served before the page: median {statistics.median(fails):g},"
                f" max {max(fails)}"
            )
        sent = [t.sent_s * 1000 for t in r.trials if t.sent_s is not None]
        if sent:
            lines.append(
                f"{r.name}: incident opened_at -> page received (wall clocks): median"
                f" {statistics.median(sent):.0f} ms, max {max(sent):.0f} ms"
            )
        lines.extend(f"{r.name}: {note}" for note in r.notes)
    return "\n".join(lines)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trials", type=int, default=30, help="trials per stack (default 30)")
    parser.add_argument(
        "--only", choices=STACKS, action="append", help="run only this stack (repeatable; default: all)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for the break moments")
    parser.add_argument(
        "--prom-for",
        type=float,
        default=2.0,
        metavar="SECONDS",
        # 2 s is the setting a team would write for "2 failures at 1 s"; at a 1 s
        # evaluation it fires on the 3rd failing evaluation, and 1 s on the 2nd.
        help="the Prometheus rule's `for:` (default 2)",
    )
    parser.add_argument("--json", action="store_true", help="print every trial as JSON instead of the table")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-trial log lines")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(name)s: %(message)s")
    # `kill` should clean up like Ctrl-C does: turn SIGTERM into KeyboardInterrupt.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    names = [name for name in STACKS if not args.only or name in args.only]
    try:
        results = run(names, args.trials, args.seed, args.prom_for)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=1))
    else:
        print(report(results, args.trials))
    return 1 if any(r.error or r.missed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
