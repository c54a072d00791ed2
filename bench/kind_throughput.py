"""``probe_throughput.py --kinds``: each probe kind's checks per second and CPU per check against
its local server, one kind at a time, on one core (the event loop) with the result writer on."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.probe_throughput import Figures, throughput_of
from vigil.config.load import parse_stack

STANDS = Path(__file__).resolve().parent / "kind_stands.py"

# kind (as shown) → the check's fields in flow style, given the bench target's port and the
# stand-ins' addresses. The shared servers are the suite's (trust, no password).
Checks = dict[str, Callable[[int, dict[str, str]], str]]
CHECKS: Checks = {
    "http": lambda port, _: f"{{http: 'http://127.0.0.1:{port}/t/1'}}",
    "tcp": lambda port, _: f"{{tcp: '127.0.0.1:{port}'}}",
    "postgres": lambda _, __: "{postgres: 'postgresql://postgres@127.0.0.1:5432/postgres'}",
    "postgres stats": lambda _, __: (
        "{postgres: 'postgresql://postgres@127.0.0.1:5432/postgres', stats: true}"
    ),
    "mysql": lambda _, __: "{mysql: 'mysql://root@127.0.0.1:3306/test'}",
    "mysql stats": lambda _, __: "{mysql: 'mysql://root@127.0.0.1:3306/test', stats: true}",
    "redis": lambda _, __: "{redis: 'redis://127.0.0.1:6379/0'}",
    "redis stats": lambda _, __: "{redis: 'redis://127.0.0.1:6379/0', stats: true, lists: [bench:jobs]}",
    "amqp": lambda _, __: "{amqp: 'amqp://guest:guest@127.0.0.1:5672/'}",
    "celery (no ping)": lambda _, __: (
        "{celery: 'redis://127.0.0.1:6379/0', queues: [celery], expect: {workers_min: null}}"
    ),
    "tls": lambda _, at: f"{{tls: '{at['tls']}', expect: {{trusted: false}}}}",
    "dns": lambda _, at: f"{{dns: bench.example, type: A, resolver: '{at['dns']}'}}",
    "websocket": lambda _, at: (
        f"{{websocket: '{at['websocket']}', send: ping, expect: {{reply_matches: ping}}}}"
    ),
    "statuspage": lambda _, at: f"{{statuspage: '{at['statuspage']}'}}",
    "qdrant": lambda _, at: f"{{qdrant: '{at['qdrant']}', collections: [bench]}}",
    "mongodb": lambda _, at: f"{{mongodb: '{at['mongodb']}/bench', count: {{collection: jobs}}}}",
}


def kinds(port: int, n: int, rounds: int, concurrency: int) -> int:
    stands = subprocess.Popen([sys.executable, str(STANDS)], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    try:
        assert stands.stdout is not None
        addresses: dict[str, str] = json.loads(stands.stdout.readline())
        print(f"{n} checks of each kind, {rounds} rounds, {concurrency} in flight, one core (event loop)")
        print(f"{'kind':<18} {'checks/s':>9} {'CPU ms/check':>13} {'failed':>7}")
        for name, fields in CHECKS.items():
            figures = _one(fields(port, addresses), n, rounds, concurrency)
            print(
                f"{name:<18} {figures.per_second:>9.0f} {figures.cpu_ms_per_check:>13.3f} {figures.failed:>7}",
                flush=True,
            )
        return 0
    finally:
        stands.kill()
        stands.wait()


def _one(fields: str, n: int, rounds: int, concurrency: int) -> Figures:
    lines = ["services:", "  bench:", "    checks:"]
    lines += [f"      c{i}: {fields[:-1]}, every: 30s, timeout: 5s, alert: false}}" for i in range(n)]
    stack = parse_stack("kinds.yaml", "\n".join(lines) + "\n", {})
    return asyncio.run(throughput_of(stack, rounds, concurrency))
