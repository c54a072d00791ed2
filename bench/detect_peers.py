"""Peer launchers for the detection benchmark (bench/detect.py): what a team would otherwise run.

Each launcher is a context manager that starts private instances of Debian's
binaries (install them with ``scripts/install-peers.sh``) on free 127.0.0.1
ports, with config, data and state in a temp dir, pointed at the fixture of
``bench/receiver.py`` (one port: ``/health`` is the target, ``/hook/<name>``
the webhook receiver). It yields a ``Stack`` once the peer is ready to page,
and always stops its processes and removes its temp dir, also on Ctrl-C.

* ``prometheus_stack``: prometheus + blackbox exporter + alertmanager, 1 s
  scrape and evaluation interval, rule ``probe_success == 0`` ``for: 2s``,
  ``group_wait: 0s``, ``group_interval: 1s``, webhook with ``send_resolved``.
* ``monit_stack``: monit with ``set daemon 1`` and an HTTP check of the target
  that ``exec``\\s a curl POST to the receiver after 2 failing cycles, and
  another on recovery.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.detect_stack import STARTUP_S, Stack, body_has, require, workspace
from bench.peer import EXPORTER_BIN, HOST, PROMETHEUS_BIN, _free_port, _get_json, _spawn, _wait_http

ALERTMANAGER_BIN = "prometheus-alertmanager"
MONIT_BIN = "monit"
CURL_BIN = "curl"


def _write_json(path: Path, data: Any) -> Path:
    # JSON is valid YAML: no YAML writer needed for Prometheus/Alertmanager configs.
    path.write_text(json.dumps(data, indent=1))
    return path


@contextlib.contextmanager
def prometheus_stack(fixture_port: int, interval_s: float = 1.0, for_s: float = 2.0) -> Iterator[Stack]:
    """Prometheus + blackbox exporter + Alertmanager paging /hook/prometheus when /health fails."""
    require(PROMETHEUS_BIN, EXPORTER_BIN, ALERTMANAGER_BIN)
    with workspace("vigil-detect-prom-") as (workdir, procs):
        exporter_port, prom_port, am_port = _free_port(), _free_port(), _free_port()
        ms = f"{round(interval_s * 1000)}ms"
        blackbox = {
            "modules": {
                "http_2xx": {
                    "prober": "http",
                    # Same per-probe budget as Vigil's check (timeout: 900ms).
                    "timeout": "900ms",
                    "http": {"preferred_ip_protocol": "ip4", "method": "GET"},
                }
            }
        }
        prometheus = {
            "global": {"scrape_interval": ms, "scrape_timeout": ms, "evaluation_interval": ms},
            "rule_files": [str(workdir / "rules.yml")],
            "alerting": {
                "alertmanagers": [
                    {"api_version": "v2", "static_configs": [{"targets": [f"{HOST}:{am_port}"]}]}
                ]
            },
            "scrape_configs": [
                {
                    "job_name": "blackbox",
                    "metrics_path": "/probe",
                    "params": {"module": ["http_2xx"]},
                    "static_configs": [{"targets": [f"http://{HOST}:{fixture_port}/health"]}],
                    # The standard blackbox pattern: the listed "address" is the URL to
                    # probe; it becomes ?target=, and the scrape goes to the exporter.
                    "relabel_configs": [
                        {"source_labels": ["__address__"], "target_label": "__param_target"},
                        {"source_labels": ["__param_target"], "target_label": "instance"},
                        {"target_label": "__address__", "replacement": f"{HOST}:{exporter_port}"},
                    ],
                }
            ],
        }
        rules = {
            "groups": [
                {
                    "name": "detect",
                    "interval": ms,
                    "rules": [
                        {
                            "alert": "TargetDown",
                            "expr": 'probe_success{job="blackbox"} == 0',
                            "for": f"{round(for_s * 1000)}ms",
                            "labels": {"severity": "page"},
                        }
                    ],
                }
            ]
        }
        alertmanager = {
            "route": {
                "receiver": "bench",
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": ms,
                # High: one page per incident, as Vigil and monit send.
                "repeat_interval": "24h",
            },
            "receivers": [
                {
                    "name": "bench",
                    "webhook_configs": [
                        {"url": f"http://{HOST}:{fixture_port}/hook/prometheus", "send_resolved": True}
                    ],
                }
            ],
        }
        _write_json(workdir / "rules.yml", rules)
        procs.append(
            _spawn(
                [
                    ALERTMANAGER_BIN,
                    f"--config.file={_write_json(workdir / 'alertmanager.yml', alertmanager)}",
                    f"--storage.path={workdir / 'am'}",
                    f"--web.listen-address={HOST}:{am_port}",
                    # Empty: no cluster. Otherwise it binds 0.0.0.0:9094 and waits for
                    # gossip to settle before its first notification.
                    "--cluster.listen-address=",
                    "--log.level=warn",
                ],
                workdir,
                "alertmanager.log",
            )
        )
        procs.append(
            _spawn(
                [
                    EXPORTER_BIN,
                    f"--config.file={_write_json(workdir / 'blackbox.yml', blackbox)}",
                    f"--web.listen-address={HOST}:{exporter_port}",
                    # The probe budget is min(module timeout, scrape timeout - offset):
                    # the default 0.5 s offset would cut the 900 ms budget to 500 ms.
                    "--timeout-offset=0.1",
                    "--log.level=warn",
                ],
                workdir,
                "exporter.log",
            )
        )
        # Prometheus first in the list: stopped first, so no alert is sent to a
        # half-stopped Alertmanager and the exporter gets no new work while stopping.
        procs.insert(
            0,
            _spawn(
                [
                    PROMETHEUS_BIN,
                    f"--config.file={_write_json(workdir / 'prometheus.yml', prometheus)}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address={HOST}:{prom_port}",
                    "--log.level=warn",
                ],
                workdir,
                "prometheus.log",
            ),
        )
        stack = Stack(
            name="prometheus",
            workdir=workdir,
            procs=procs,
            logs=["prometheus.log", "exporter.log", "alertmanager.log"],
            is_page=lambda hook: body_has(hook, "status", "firing"),
            is_recovery=lambda hook: body_has(hook, "status", "resolved"),
            # An alert is pending from the first evaluation that sees the failure and
            # fires at the first one at least `for` later.
            notes=[
                f"rule for: {for_s:g}s at {interval_s:g}s evaluation fires on failing evaluation"
                f" {math.ceil(for_s / interval_s) + 1}"
            ],
        )
        prom_url = f"http://{HOST}:{prom_port}"
        try:
            deadline = time.monotonic() + STARTUP_S
            _wait_http(f"http://{HOST}:{am_port}/-/ready", procs[1], deadline, ALERTMANAGER_BIN)
            _wait_http(f"http://{HOST}:{exporter_port}/metrics", procs[2], deadline, EXPORTER_BIN)
            _wait_http(f"{prom_url}/-/ready", procs[0], deadline, PROMETHEUS_BIN)
            _wait_prometheus_wired(prom_url, stack, deadline)
        except (RuntimeError, TimeoutError, OSError) as exc:
            raise RuntimeError(f"prometheus stack did not start: {exc}\n{stack.log_tails()}") from exc
        yield stack


def _wait_prometheus_wired(prom_url: str, stack: Stack, deadline: float) -> None:
    """Wait until Prometheus knows its Alertmanager and has a successful probe of the target.

    Without the first, a page during the first trial could be dropped; without
    the second, the first trial's break could land before the first scrape.
    """
    while True:
        stack.check_alive()
        managers = _get_json(f"{prom_url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
        result = _get_json(f"{prom_url}/api/v1/query?query=probe_success")["data"]["result"]
        if managers and result and result[0]["value"][1] == "1":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not wired up: alertmanagers={managers}, probe_success={result}")
        time.sleep(0.2)


MONITRC = """\
# Generated by bench/detect_peers.py. One-second cycle; all state in this dir.
set daemon {interval}
set logfile {workdir}/monit.log
set pidfile {workdir}/monit.pid
set idfile {workdir}/monit.id
set statefile {workdir}/monit.state

check host target with address {host}
    if failed port {port} protocol http request "/health" with timeout {timeout} seconds
       for {cycles} cycles
    then exec "{workdir}/notify.sh triggered"
    else if succeeded then exec "{workdir}/notify.sh resolved"
"""

# Monit exec's the script and does not wait for it: curl's start-up is part of
# the measured page latency, as it would be for a team paging this way. Monit
# double-forks and setsid()s what it execs, so stopping monit cannot reach a
# curl in flight: -m 5 bounds how long one can outlive the run.
NOTIFY_SH = """\
#!/bin/sh
exec {curl} -sS --noproxy '*' -m 5 -o /dev/null -H 'Content-Type: application/json' \\
  -d "{{\\"event\\":\\"$1\\",\\"service\\":\\"$MONIT_SERVICE\\"}}" http://{host}:{port}/hook/monit
"""


@contextlib.contextmanager
def monit_stack(fixture_port: int, interval_s: float = 1.0, cycles: int = 2) -> Iterator[Stack]:
    """Monit checking /health every cycle, exec'ing a curl POST to /hook/monit after `cycles` failures."""
    require(MONIT_BIN, CURL_BIN)
    if interval_s != int(interval_s) or interval_s < 1:
        raise ValueError("monit's cycle is a whole number of seconds")
    with workspace("vigil-detect-monit-") as (workdir, procs):
        notify = workdir / "notify.sh"
        notify.write_text(NOTIFY_SH.format(curl=shutil.which(CURL_BIN), host=HOST, port=fixture_port))
        notify.chmod(0o755)
        control = workdir / "monitrc"
        control.write_text(
            MONITRC.format(
                interval=int(interval_s),
                workdir=workdir,
                host=HOST,
                port=fixture_port,
                # Monit's timeout is whole seconds: 1 s is the nearest to Vigil's 900 ms.
                timeout=1,
                cycles=cycles,
            )
        )
        # Monit refuses a control file readable by others.
        control.chmod(0o600)
        syntax = subprocess.run(
            [MONIT_BIN, "-t", "-c", str(control)], capture_output=True, text=True, check=False
        )
        if syntax.returncode != 0:
            raise RuntimeError(f"monit rejected its control file: {syntax.stdout}{syntax.stderr}")
        # -I: stay in the foreground as our child, so we can stop it (no daemon to chase).
        procs.append(_spawn([MONIT_BIN, "-I", "-c", str(control)], workdir, "monit.out"))
        stack = Stack(
            name="monit",
            workdir=workdir,
            procs=procs,
            logs=["monit.out", "monit.log"],
            is_page=lambda hook: body_has(hook, "event", "triggered"),
            is_recovery=lambda hook: body_has(hook, "event", "resolved"),
            notes=["monit's connection timeout is whole seconds: 1 s (Vigil: 900 ms)"],
        )
        # Readiness (monit is probing the target) is checked by the caller through
        # the fixture's probe count; monit has no API without its httpd enabled.
        stack.check_alive()
        yield stack
