"""Paging under a burst: 1,000 incidents at once, 5 webhook channels each, every notification
delivered exactly once per channel; then the same burst while the receivers answer 500 for a
while (``--fail-for``, 30 s by default), and nothing may be lost; and the same burst through a
real Alertmanager (``group_wait: 0s``), the peer, for the time from alert to webhook.

Vigil runs as users run it (``vigil up``, a separate process, a fresh SQLite store per run); the
burst is one Alertmanager-shaped payload of N firing alerts posted to its receiver, so each alert
opens an incident that pages 5 channels. The webhook receivers (one path per channel) run in
this process on 127.0.0.1 and stamp each request as it arrives (``time.monotonic``); a request
answered 500 is counted as refused, a 200 as delivered. The peer is Debian's
``prometheus-alertmanager`` (``scripts/install-peers.sh``) with ``group_by: ['...']`` (every alert
its own group, one notification each, as Vigil sends one page per incident), ``group_wait: 0s``
and five receivers, one per channel; its alerts are posted to ``/api/v2/alerts``.

Figures: the drain time (from the start of the post to the last first delivery), the median and
95th percentile of alert → webhook, duplicates (a key delivered twice) and losses (a key never
delivered). Vigil, its receivers and Alertmanager share the machine's cores.

    python bench/paging.py [--alerts 1000 --fail-for 30 --skip-peer]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dashboard_load import free_port
from bench.vigil_up import vigil_up

ALERTMANAGER = "prometheus-alertmanager"
CHANNELS = [f"c{n}" for n in range(1, 6)]
DRAIN_LIMIT = 600.0  # seconds a run may take to deliver everything before it is called lost


class Receivers:
    """Five webhook receivers (``/hook/<channel>``) on one loopback port, in a thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.delivered: dict[tuple[str, str], list[float]] = {}
        self.refused = 0
        self.fail_until = 0.0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)

    def url(self, channel: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{channel}"

    def reset(self, fail_for: float = 0.0) -> None:
        with self.lock:
            self.delivered.clear()
            self.refused = 0
            self.fail_until = time.monotonic() + fail_for

    def count(self) -> int:
        with self.lock:
            return len(self.delivered)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/hook/{channel}", self._hook)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024).start())
        self._ready.set()
        self._loop.run_forever()

    async def _hook(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        body = await request.json()
        channel = request.match_info["channel"]
        if now < self.fail_until:
            with self.lock:
                self.refused += 1
            return web.json_response({"error": "down for the benchmark"}, status=500)
        # Vigil names each message; Alertmanager's notification is one alert of one group.
        key = request.headers.get("Idempotency-Key") or str(body["alerts"][0]["labels"]["n"])
        with self.lock:
            self.delivered.setdefault((channel, key), []).append(now)
        return web.json_response({"ok": True})


@dataclass(frozen=True)
class Run:
    name: str
    expected: int
    drain: float
    latencies: list[float]
    duplicates: int
    refused: int
    opened: float | None = None  # seconds the post took (Vigil: incidents opened and paged)

    def line(self) -> str:
        lost = self.expected - len(self.latencies)
        p95 = (
            sorted(self.latencies)[int(0.95 * (len(self.latencies) - 1))] if self.latencies else float("nan")
        )
        median = statistics.median(self.latencies) if self.latencies else float("nan")
        opened = f", post answered in {self.opened:.2f} s" if self.opened is not None else ""
        refused = f", {self.refused} answered 500" if self.refused else ""
        return (
            f"{self.name}: {len(self.latencies)}/{self.expected} delivered, drain {self.drain:.2f} s, "
            f"alert→webhook median {median:.2f} s, p95 {p95:.2f} s, "
            f"{self.duplicates} duplicates, {lost} lost{refused}{opened}"
        )


def wait_delivered(receivers: Receivers, expected: int, started: float) -> tuple[float, list[float], int]:
    deadline = started + DRAIN_LIMIT
    while receivers.count() < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # a duplicate arrives after the first copy: give it a moment to show
    with receivers.lock:
        firsts = [arrivals[0] - started for arrivals in receivers.delivered.values()]
        duplicates = sum(len(arrivals) - 1 for arrivals in receivers.delivered.values())
    return (max(firsts) if firsts else float("nan")), firsts, duplicates


def am_payload(n: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "Storm", "n": str(i), "service": "api", "severity": "warning"},
            "annotations": {"summary": f"host-{i} is unhappy"},
            "startsAt": now,
            "fingerprint": f"{i:08x}",
        }
        for i in range(n)
    ]
    return {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "vigil", "alerts": alerts}


def vigil_run(receivers: Receivers, alerts: int, fail_for: float, work: Path) -> Run:
    stack = {
        "notify": {
            "channels": {c: {"webhook": receivers.url(c), "expire_after": "1h"} for c in CHANNELS},
            "default": CHANNELS,
        },
        "services": {"api": {"checks": {"health": {"tcp": "127.0.0.1:9", "every": "1h", "alert": False}}}},
    }
    (work / "vigil.yaml").write_text(json.dumps(stack))
    with vigil_up(work / "vigil.yaml", work) as (url, headers):
        body = am_payload(alerts)
        receivers.reset(fail_for)
        started = time.monotonic()
        answer = httpx.post(f"{url}/api/v1/alertmanager", json=body, headers=headers, timeout=120)
        opened = time.monotonic() - started
        if answer.status_code != 200 or len(answer.json()["opened"]) != alerts:
            raise SystemExit(f"the burst was not taken: {answer.status_code} {answer.text[:200]}")
        drain, firsts, duplicates = wait_delivered(receivers, alerts * len(CHANNELS), started)
    name = f"Vigil, receivers answering 500 for the first {fail_for:g} s" if fail_for else "Vigil"
    return Run(name, alerts * len(CHANNELS), drain, firsts, duplicates, receivers.refused, opened)


def alertmanager_run(receivers: Receivers, alerts: int, work: Path) -> Run:
    config = {
        "route": {
            "receiver": CHANNELS[0],
            "group_by": ["..."],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "24h",
            # One route per receiver, each matching every alert and going on to the next.
            "routes": [{"receiver": c, "continue": True} for c in CHANNELS],
        },
        "receivers": [
            {"name": c, "webhook_configs": [{"url": receivers.url(c), "send_resolved": False}]}
            for c in CHANNELS
        ],
    }
    (work / "alertmanager.yml").write_text(json.dumps(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "alertmanager.log").open("w")
    manager = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={work / 'alertmanager.yml'}",
            f"--storage.path={work / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no cluster: no gossip to wait for
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if manager.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"alertmanager did not start: {(work / 'alertmanager.log').read_text()[-500:]}"
                )
            time.sleep(0.1)
        now = datetime.now(UTC)
        body = [
            {
                "labels": {"alertname": "Storm", "n": str(i), "service": "api", "severity": "warning"},
                "annotations": {"summary": f"host-{i} is unhappy"},
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
            }
            for i in range(alerts)
        ]
        receivers.reset()
        started = time.monotonic()
        answer = httpx.post(f"{url}/api/v2/alerts", json=body, timeout=120)
        opened = time.monotonic() - started
        if answer.status_code != 200:
            raise SystemExit(f"alertmanager refused the burst: {answer.status_code} {answer.text[:200]}")
        drain, firsts, duplicates = wait_delivered(receivers, alerts * len(CHANNELS), started)
        name = "Alertmanager 0.25 (group_wait: 0s, group_by: ['...'])"
        return Run(name, alerts * len(CHANNELS), drain, firsts, duplicates, 0, opened)
    finally:
        manager.terminate()
        manager.wait(timeout=30)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--fail-for", type=float, default=30.0, help="seconds the receivers answer 500")
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    receivers = Receivers()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as work:
        for n, fail_for in enumerate((0.0, args.fail_for)):
            folder = Path(work) / f"vigil-{n}"
            folder.mkdir()
            runs.append(vigil_run(receivers, args.alerts, fail_for, folder))
            print(runs[-1].line(), flush=True)
        if not args.skip_peer:
            if shutil.which(ALERTMANAGER) is None:
                print(f"{ALERTMANAGER} is not installed (scripts/install-peers.sh); no peer figure")
            else:
                folder = Path(work) / "alertmanager"
                folder.mkdir()
                runs.append(alertmanager_run(receivers, args.alerts, folder))
                print(runs[-1].line(), flush=True)
    if len(runs) == 3:
        print(f"drain, Vigil / Alertmanager: {runs[0].drain / runs[2].drain:.2f}")
    failed = [r for r in runs[:2] if r.duplicates or len(r.latencies) != r.expected]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
