"""HTTP probe throughput, CPU per check, memory and scheduling lag — and the same beside the peer.

Modes (all traffic goes to a local target process on 127.0.0.1):

    python bench/probe_throughput.py [--checks 2000 --rounds 5]
        back-to-back rounds of N HTTP checks: checks/s on one core, CPU-ms per check, RSS
    python bench/probe_throughput.py --schedule [--checks 10000 --every 30 --duration 60]
        N checks held at an interval: p50/p99 scheduling lag, CPU-ms per check, RSS
    python bench/probe_throughput.py --peer [--sizes 1000,5000 --every 10 --duration 30]
        for each size, Vigil's scheduler and then Prometheus + blackbox exporter on the same
        targets at the same interval: CPU-ms per probe and memory side by side, with the ratio
    python bench/probe_throughput.py --kinds [--checks 100 --rounds 3 --concurrency 20]
        for each probe kind, back-to-back rounds of N checks against its local server (the
        shared PostgreSQL, MariaDB, Redis and RabbitMQ; TLS, DNS, WebSocket, Statuspage, Qdrant
        and MongoDB stand-ins served by bench/kind_stands.py): checks/s and CPU-ms per check

Vigil runs in this process exactly as ``vigil up`` runs its engine: the scheduler, the
runner, the HTTP probe and the result writer into a SQLite store. The target runs in its
own process so its CPU never mixes with the figure being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.target import start_target
from vigil.config.load import Stack, parse_stack
from vigil.engine.runner import CheckRunner, ProbeSet
from vigil.engine.scheduler import Scheduler
from vigil.probes.base import Result
from vigil.store.database import open_database
from vigil.store.results import ResultStore, ResultWriter


@dataclass
class Figures:
    checks: int
    seconds: float
    cpu_ms_per_check: float
    rss_mb: float
    failed: int
    lag_p50_ms: float = 0.0
    lag_p99_ms: float = 0.0
    lag_max_ms: float = 0.0

    @property
    def per_second(self) -> float:
        return self.checks / self.seconds if self.seconds else 0.0


def stack_for(port: int, n: int, every: float) -> Stack:
    lines = ["services:"]
    for block in range(0, n, 1000):
        lines.append(f"  svc{block // 1000}:\n    checks:")
        for i in range(block, min(n, block + 1000)):
            lines.append(
                f"      t{i}: {{http: 'http://127.0.0.1:{port}/t/{i}', every: {every}s, timeout: 5s}}"
            )
    return parse_stack("bench.yaml", "\n".join(lines) + "\n", {})


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


class Recorder:
    """Counts results and hands them to the store's writer, as the server does."""

    def __init__(self, writer: ResultWriter) -> None:
        self.writer = writer
        self.count = 0
        self.failed = 0
        self.first_failure: str | None = None

    async def __call__(self, result: Result) -> None:
        self.count += 1
        if not result.ok:
            self.failed += 1
            self.first_failure = self.first_failure or f"{result.check_id}: {result.reason}"
        await self.writer.accept(result)


async def with_store(work: callable) -> Figures:  # type: ignore[valid-type]
    with tempfile.TemporaryDirectory() as tmp:
        engine = await open_database(f"sqlite:///{tmp}/vigil.db")
        writer = ResultWriter(ResultStore(engine), retention=3600)
        flusher = asyncio.create_task(writer.run())
        try:
            return await work(writer)  # type: ignore[no-any-return]
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            await engine.dispose()


async def throughput(port: int, n: int, rounds: int, concurrency: int) -> Figures:
    return await throughput_of(stack_for(port, n, 30), rounds, concurrency)


async def throughput_of(stack: Stack, rounds: int, concurrency: int) -> Figures:
    specs = stack.specs()

    async def work(writer: ResultWriter) -> Figures:
        probes = ProbeSet()
        runner = CheckRunner(probes, redactor=stack.redactor)
        recorder = Recorder(writer)
        slots = asyncio.Semaphore(concurrency)

        async def one(spec: object) -> None:
            async with slots:
                await recorder(await runner.run(spec))  # type: ignore[arg-type]

        await asyncio.gather(*(one(s) for s in specs))  # warm: connections, caches
        recorder.count = recorder.failed = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(one(s) for s in specs))
        await writer.flush()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        figures = Figures(recorder.count, wall, cpu * 1000 / recorder.count, rss_mb(), recorder.failed)
        await probes.aclose()
        if recorder.first_failure:
            print(f"  first failure: {recorder.first_failure}")
        return figures

    return await with_store(work)


async def scheduled(port: int, n: int, every: float, duration: float, warm: float) -> Figures:
    stack = stack_for(port, n, every)

    async def work(writer: ResultWriter) -> Figures:
        probes = ProbeSet()
        recorder = Recorder(writer)
        scheduler = Scheduler(
            stack.specs(),
            CheckRunner(probes, redactor=stack.redactor),
            recorder,
            concurrency=stack.model.engine.concurrency,
        )
        task = asyncio.create_task(scheduler.run())
        await asyncio.sleep(warm)
        scheduler.lags.clear()
        recorder.count = recorder.failed = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(duration)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        memory = rss_mb()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await probes.aclose()
        lags = sorted(scheduler.lags)
        q = statistics.quantiles(lags, n=100) if len(lags) > 1 else [0.0] * 99
        if recorder.first_failure:
            print(f"  first failure: {recorder.first_failure}")
        return Figures(
            recorder.count,
            wall,
            cpu * 1000 / max(1, recorder.count),
            memory,
            recorder.failed,
            q[49] * 1000,
            q[98] * 1000,
            (lags[-1] if lags else 0.0) * 1000,
        )

    return await with_store(work)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schedule", action="store_true", help="hold N checks at an interval; report lag")
    parser.add_argument("--peer", action="store_true", help="compare with Prometheus + blackbox exporter")
    parser.add_argument("--kinds", action="store_true", help="checks/s and CPU per check of each probe kind")
    parser.add_argument("--checks", type=int, default=None, help="number of HTTP checks")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds over all checks")
    parser.add_argument("--concurrency", type=int, default=None, help="checks in flight at once")
    parser.add_argument("--every", type=float, default=None, help="interval, seconds")
    parser.add_argument("--duration", type=float, default=None, help="measured window, seconds")
    parser.add_argument("--sizes", default="1000,5000", help="target counts for --peer")
    args = parser.parse_args()

    target, port = start_target()
    try:
        if args.kinds:
            from bench.kind_throughput import kinds

            return kinds(port, args.checks or 100, args.rounds, args.concurrency or 20)
        if args.peer:
            return peer(port, [int(s) for s in args.sizes.split(",")], args.every or 10, args.duration or 30)
        if args.schedule:
            n, every = args.checks or 10_000, args.every or 30
            duration = args.duration or 2 * every
            f = asyncio.run(scheduled(port, n, every, duration, warm=every))
            print(
                f"schedule: {n} checks every {every:g}s, measured {f.seconds:.0f}s after one interval of warm-up"
            )
            print(f"  runs {f.checks} ({f.per_second:.0f}/s), failed {f.failed}")
            print(
                f"  scheduling lag p50 {f.lag_p50_ms:.1f} ms  p99 {f.lag_p99_ms:.1f} ms  max {f.lag_max_ms:.1f} ms"
            )
            print(f"  CPU {f.cpu_ms_per_check:.3f} ms per check, resident memory {f.rss_mb:.0f} MB")
            return 0
        n = args.checks or 2000
        f = asyncio.run(throughput(port, n, args.rounds, args.concurrency or 500))
        print(f"throughput: {f.checks} HTTP checks in {f.seconds:.2f}s on one core (event loop)")
        print(
            f"  {f.per_second:.0f} checks/s, CPU {f.cpu_ms_per_check:.3f} ms per check, "
            f"resident memory {f.rss_mb:.0f} MB, failed {f.failed}"
        )
        return 0
    finally:
        target.kill()
        target.wait()


def peer(port: int, sizes: list[int], every: float, duration: float) -> int:
    from bench.peer import run_peer

    rows = []
    for n in sizes:
        print(f"[{n} targets every {every:g}s] Vigil …", flush=True)
        vigil = asyncio.run(scheduled(port, n, every, duration, warm=every))
        print(f"[{n} targets every {every:g}s] Prometheus + blackbox exporter …", flush=True)
        other = run_peer(port, n, every, duration)
        rows.append((n, vigil, other))
    print()
    print(
        f"{'targets':>8} {'Vigil ms/probe':>15} {'peer ms/probe':>14} {'ratio':>6} "
        f"{'Vigil MB':>9} {'Prometheus MB':>14} {'exporter MB':>12} {'Vigil failed':>13}"
    )
    for n, vigil, other in rows:
        ratio = vigil.cpu_ms_per_check / other.cpu_ms_per_probe
        print(
            f"{n:>8} {vigil.cpu_ms_per_check:>15.3f} {other.cpu_ms_per_probe:>14.3f} {ratio:>6.2f} "
            f"{vigil.rss_mb:>9.0f} {other.prometheus_rss_mb:>14.0f} {other.exporter_rss_mb:>12.0f} {vigil.failed:>13}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
