"""How long ``vigil up`` takes to take in one Alertmanager payload of many firing alerts.

Starts ``vigil up`` (a separate process, as users run it) on a small stack and a fresh SQLite
store, creates a responder token, then posts payloads of N distinct firing alerts (each opens an
incident) and the same N resolved (each resolves one), timing each request end to end. Prints
the median over ``--rounds`` rounds (each round uses new fingerprints). Target: under 2 s for
2,000 alerts.

    python bench/alertmanager_load.py [--alerts 1000 --rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.vigil_up import vigil_up

VIGIL = str(Path(sys.executable).parent / "vigil")
STACK = "services:\n  api:\n    checks:\n      health: {tcp: '127.0.0.1:9', every: 1h, alert: false}\n"


def payload(round_: int, n: int, status: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    alerts = [
        {
            "status": status,
            "labels": {"alertname": "Storm", "instance": f"host-{i}:9100", "severity": "warning"},
            "annotations": {"summary": f"host-{i} is unhappy"},
            "startsAt": now,
            "fingerprint": f"r{round_}-{i:06x}",
        }
        for i in range(n)
    ]
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="Storm",round="{round_}"}}',
        "status": status,
        "receiver": "vigil",
        "alerts": alerts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        stack = Path(work) / "vigil.yaml"
        stack.write_text(STACK)
        with vigil_up(stack, Path(work)) as (url, headers):
            times: dict[str, list[float]] = {"firing": [], "resolved": []}
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                for round_ in range(args.rounds):
                    for status in ("firing", "resolved"):
                        body = payload(round_, args.alerts, status)
                        started = time.perf_counter()
                        answer = client.post("/api/v1/alertmanager", json=body)
                        took = time.perf_counter() - started
                        if answer.status_code != 200:
                            raise SystemExit(f"{status}: {answer.status_code} {answer.text[:200]}")
                        done = answer.json()["opened" if status == "firing" else "resolved"]
                        if len(done) != args.alerts:
                            raise SystemExit(f"{status}: {len(done)} of {args.alerts} incidents changed")
                        times[status].append(took)
            for status, seconds in times.items():
                print(
                    f"{args.alerts} {status} alerts in one payload: median {statistics.median(seconds):.2f} s"
                    f" over {len(seconds)} rounds ({', '.join(f'{s:.2f}' for s in seconds)})"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
