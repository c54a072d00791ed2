"""Peer side of the probe benchmark: what Prometheus + blackbox exporter spend per HTTP probe.

``run_peer()`` starts private instances of Debian's ``prometheus`` and
``prometheus-blackbox-exporter`` (install them with ``scripts/install-peers.sh``)
on free 127.0.0.1 ports with their own config and data dirs, has Prometheus
probe ``n_targets`` URLs of a local target server through the exporter every
``interval_s``, and measures CPU per probe and resident memory over
``duration_s`` of steady state.

Manual run (starts ``bench/target.py`` in its own process)::

    python bench/peer.py --targets 1000 --interval 10 --duration 30
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a script (python bench/peer.py): make `bench` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.target import start_target

log = logging.getLogger("bench.peer")

HOST = "127.0.0.1"
PROMETHEUS_BIN = "prometheus"
EXPORTER_BIN = "prometheus-blackbox-exporter"
JOB = "blackbox"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1
# Loaded here, not in the forked child: preexec_fn then runs no import or dlopen.
_LIBC = ctypes.CDLL(None, use_errno=True)

# Never let an http(s)_proxy in the environment route our local API calls elsewhere.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class PeerFigures:
    cpu_ms_per_probe: float  # Prometheus + exporter CPU (user+sys) over the window, per probe
    probes: int  # probes completed in the window (samples Prometheus ingested)
    prometheus_rss_mb: float  # VmRSS at the end of the window, MiB
    exporter_rss_mb: float  # VmRSS at the end of the window, MiB
    seconds: float  # wall length of the measured window


def _duration(seconds: float) -> str:
    """Format seconds as a Prometheus/Go duration; ms keeps sub-second intervals exact."""
    return f"{max(1, round(seconds * 1000))}ms"


def _free_port() -> int:
    # The port is released before the binary binds it; a steal in between is
    # unlikely on a benchmark box and would surface as a startup failure.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _timeouts(interval_s: float) -> tuple[float, float]:
    """Return (scrape_timeout, module_timeout) for an interval.

    Prometheus rejects scrape_timeout > scrape_interval, and caps it at its 10 s
    default otherwise. The exporter caps a probe at min(module timeout, scrape
    timeout - 0.5 s offset); keeping the module timeout well under the interval
    means a slow probe can never overlap the next round of the same target.
    """
    scrape_timeout = min(interval_s, 10.0)
    module_timeout = max(0.1, min(5.0, interval_s * 0.5))
    return scrape_timeout, module_timeout


def write_configs(
    workdir: Path, target_port: int, exporter_port: int, n_targets: int, interval_s: float
) -> tuple[Path, Path]:
    """Write the exporter and Prometheus configs into workdir; return their paths.

    JSON is valid YAML, so no YAML writer is needed for files of thousands of targets.
    """
    scrape_timeout, module_timeout = _timeouts(interval_s)
    blackbox = {
        "modules": {
            "http_2xx": {
                "prober": "http",
                "timeout": _duration(module_timeout),
                # The target is an IPv4 literal; skip the default ip6 preference dance.
                "http": {"preferred_ip_protocol": "ip4", "method": "GET"},
            }
        }
    }
    prometheus = {
        "global": {
            "scrape_interval": _duration(interval_s),
            "scrape_timeout": _duration(scrape_timeout),
            # No rules are loaded; keep rule evaluation from adding wakeups anyway.
            "evaluation_interval": "1h",
        },
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/probe",
                "params": {"module": ["http_2xx"]},
                "static_configs": [
                    {"targets": [f"http://{HOST}:{target_port}/t/{i}" for i in range(n_targets)]}
                ],
                # The standard blackbox pattern: the listed "address" is the URL to
                # probe; it becomes ?target=, labels the series, and the scrape
                # itself goes to the exporter.
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"{HOST}:{exporter_port}"},
                ],
            }
        ],
    }
    bb_path = workdir / "blackbox.yml"
    prom_path = workdir / "prometheus.yml"
    bb_path.write_text(json.dumps(blackbox, indent=1))
    prom_path.write_text(json.dumps(prometheus, indent=1))
    return bb_path, prom_path


def _die_with_parent() -> None:
    """preexec_fn: have the kernel SIGTERM the child if its launcher dies (even by SIGKILL).

    PDEATHSIG fires when the launching *thread* exits; run_peer only returns
    after stopping both processes, so that never cuts a measurement short.
    """
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _spawn(argv: list[str], workdir: Path, log_name: str) -> subprocess.Popen[bytes]:
    with (workdir / log_name).open("wb") as out:
        return subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Own session: a terminal Ctrl-C reaches only us, and our finally
            # block shuts the pair down in order instead of racing them.
            start_new_session=True,
            # Only a prctl() call runs between fork and exec, so this stays safe
            # even if the caller has other threads running.
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )


def _stop(proc: subprocess.Popen[bytes] | None, timeout_s: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop procs gracefully in order; if interrupted (second Ctrl-C), SIGKILL whatever is left."""
    try:
        for proc in procs:
            _stop(proc)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _log_tail(workdir: Path, name: str, lines: int = 15) -> str:
    try:
        return "\n".join((workdir / name).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _get_json(url: str, timeout_s: float = 10.0) -> Any:
    with _HTTP.open(url, timeout=timeout_s) as resp:
        return json.load(resp)


def _get_text(url: str, timeout_s: float = 10.0) -> str:
    with _HTTP.open(url, timeout=timeout_s) as resp:
        text: str = resp.read().decode()
        return text


def _wait_http(url: str, proc: subprocess.Popen[bytes], deadline: float, what: str) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} during startup")
        try:
            _get_text(url, timeout_s=2.0)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not answer {url} in time") from None
            time.sleep(0.1)


def _wait_all_up(prom_url: str, prom: subprocess.Popen[bytes], n_targets: int, deadline: float) -> None:
    """Poll /api/v1/targets until every blackbox target has been scraped successfully."""
    last = (0, 0)
    while True:
        if prom.poll() is not None:
            raise RuntimeError(f"prometheus exited with {prom.returncode}")
        data = _get_json(f"{prom_url}/api/v1/targets?state=active")["data"]["activeTargets"]
        ours = [t for t in data if t.get("labels", {}).get("job") == JOB]
        up = sum(1 for t in ours if t.get("health") == "up")
        if len(ours) == n_targets and up == n_targets:
            return
        last = (len(ours), up)
        if time.monotonic() > deadline:
            down = [t for t in ours if t.get("health") == "down"][:3]
            errors = "; ".join(f"{t['labels'].get('instance')}: {t.get('lastError')}" for t in down)
            raise TimeoutError(f"only {last[1]}/{n_targets} targets up (of {last[0]} known). {errors}")
        time.sleep(0.5)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                kids += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return kids


def _tree(pid: int) -> Iterator[int]:
    yield pid
    for child in _children(pid):
        yield from _tree(child)


def _cpu_seconds(pid: int) -> float:
    """utime+stime of pid and all live descendants, plus reaped children's (cutime+cstime)."""
    ticks = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{p}/stat").read_text()
            # Field 2 (comm) may contain spaces; everything after the last ')' is fixed-format.
            fields = stat[stat.rindex(")") + 2 :].split()
            # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17.
            ticks += sum(int(f) for f in fields[11:15])
    return ticks / CLK_TCK


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB -> MiB
    return 0.0


def _query_scalar(prom_url: str, expr: str, at: float) -> float:
    qs = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    body = _get_json(f"{prom_url}/api/v1/query?{qs}")
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr!r} failed: {body}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def _scrape_starts(prom_url: str) -> float:
    """Prometheus' own count of scrape starts (all targets), from its /metrics."""
    total = 0.0
    for line in _get_text(f"{prom_url}/metrics").splitlines():
        if line.startswith("prometheus_target_interval_length_seconds_count"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _start_pair(
    workdir: Path, port: int, n_targets: int, interval_s: float, started: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str]:
    """Start exporter and Prometheus; return (prometheus, exporter, prometheus URL) once all are up.

    Each process is appended to ``started`` as soon as it exists, so the caller
    can clean up after a failure half-way through.
    """
    exporter_port, prom_port = _free_port(), _free_port()
    bb_cfg, prom_cfg = write_configs(workdir, port, exporter_port, n_targets, interval_s)
    exporter = _spawn(
        [
            EXPORTER_BIN,
            f"--config.file={bb_cfg}",
            f"--web.listen-address={HOST}:{exporter_port}",
            "--log.level=warn",
        ],
        workdir,
        "exporter.log",
    )
    started.append(exporter)
    prom = _spawn(
        [
            PROMETHEUS_BIN,
            f"--config.file={prom_cfg}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{prom_port}",
            "--log.level=warn",
        ],
        workdir,
        "prometheus.log",
    )
    started.insert(0, prom)  # stopped first: see run_peer's cleanup
    prom_url = f"http://{HOST}:{prom_port}"
    try:
        startup_deadline = time.monotonic() + 30.0
        _wait_http(f"http://{HOST}:{exporter_port}/metrics", exporter, startup_deadline, EXPORTER_BIN)
        _wait_http(f"{prom_url}/-/ready", prom, startup_deadline, PROMETHEUS_BIN)
        # Scrapes are spread over one interval (offset hashed per target), so all
        # targets have reported after at most one interval plus target-sync time.
        _wait_all_up(prom_url, prom, n_targets, time.monotonic() + 2 * interval_s + 30.0)
    except (RuntimeError, TimeoutError) as exc:
        raise RuntimeError(
            f"{exc}\n--- prometheus.log ---\n{_log_tail(workdir, 'prometheus.log')}"
            f"\n--- exporter.log ---\n{_log_tail(workdir, 'exporter.log')}"
        ) from exc
    return prom, exporter, prom_url


def _measure(
    prom_url: str,
    prom: subprocess.Popen[bytes],
    exporter: subprocess.Popen[bytes],
    interval_s: float,
    duration_s: float,
) -> PeerFigures:
    starts0 = _scrape_starts(prom_url)
    prom_cpu0, exporter_cpu0 = _cpu_seconds(prom.pid), _cpu_seconds(exporter.pid)
    wall0, t0 = time.monotonic(), time.time()
    time.sleep(duration_s)
    prom_cpu1, exporter_cpu1 = _cpu_seconds(prom.pid), _cpu_seconds(exporter.pid)
    wall1, t1 = time.monotonic(), time.time()
    starts1 = _scrape_starts(prom_url)
    prom_rss, exporter_rss = _rss_mb(prom.pid), _rss_mb(exporter.pid)

    # Probe count: each scrape of /probe is exactly one probe, and each scrape
    # that produced a result is one probe_success sample stamped with the
    # scrape's start time. Counting those samples in [t0, t1] is exact and
    # counts only probes that completed; a scrape that timed out or failed has
    # no probe_success sample. prometheus_target_interval_length_seconds_count
    # is kept only as a cross-check: it counts scrape *starts* and skips each
    # target's first scrape, so it is approximate at the window edges.
    # Wait for scrapes begun just before t1 to be appended before querying.
    time.sleep(min(2.0, interval_s))
    window_ms = round((t1 - t0) * 1000)
    expr = f'sum(count_over_time(probe_success{{job="{JOB}"}}[{window_ms}ms]))'
    probes = round(_query_scalar(prom_url, expr, t1))
    starts = starts1 - starts0
    if probes == 0:
        raise RuntimeError("no probes recorded in the measurement window")
    if abs(starts - probes) > max(2.0, 0.01 * probes):
        log.warning("probe count %d and scrape starts %.0f disagree by more than 1%%", probes, starts)
    prom_cpu, exporter_cpu = prom_cpu1 - prom_cpu0, exporter_cpu1 - exporter_cpu0
    log.debug(
        "probes %d, scrape starts %.0f; cpu s: prometheus %.2f, exporter %.2f",
        probes,
        starts,
        prom_cpu,
        exporter_cpu,
    )

    return PeerFigures(
        cpu_ms_per_probe=(prom_cpu + exporter_cpu) * 1000 / probes,
        probes=probes,
        prometheus_rss_mb=prom_rss,
        exporter_rss_mb=exporter_rss,
        seconds=wall1 - wall0,
    )


def run_peer(port: int, n_targets: int, interval_s: float, duration_s: float) -> PeerFigures:
    """Measure Prometheus + blackbox exporter probing http://127.0.0.1:port/t/<i>, i < n_targets.

    The target server must already be listening on ``port``. Both peer
    processes and their temp dir are always cleaned up, also on Ctrl-C.
    """
    if n_targets < 1 or interval_s <= 0 or duration_s <= 0:
        raise ValueError("n_targets, interval_s and duration_s must be positive")
    for binary in (PROMETHEUS_BIN, EXPORTER_BIN):
        if shutil.which(binary) is None:
            raise FileNotFoundError(f"{binary} not found: run scripts/install-peers.sh")

    workdir = Path(tempfile.mkdtemp(prefix="vigil-peer-"))
    started: list[subprocess.Popen[bytes]] = []
    try:
        prom, exporter, prom_url = _start_pair(workdir, port, n_targets, interval_s, started)
        # One more full round so every target is in steady state (connection set-up,
        # series creation and first-scrape allocations all done) before measuring.
        time.sleep(interval_s)
        return _measure(prom_url, prom, exporter, interval_s, duration_s)
    finally:
        # Prometheus first (it is first in `started`): once it stops scraping the
        # exporter gets no new work while stopping. A second Ctrl-C during this
        # cleanup must not leave processes or files behind, hence try/finally per step.
        try:
            _stop_all(started)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure Prometheus + blackbox exporter per-probe cost.")
    parser.add_argument("--targets", type=int, default=1000, help="number of probed URLs")
    parser.add_argument("--interval", type=float, default=10.0, help="scrape/probe interval, seconds")
    parser.add_argument("--duration", type=float, default=30.0, help="measured window, seconds")
    parser.add_argument(
        "--port", type=int, default=0, help="port of an already running bench/target.py (default: start one)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="log probe/CPU breakdown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(name)s: %(message)s")
    # `kill` should clean up like Ctrl-C does: turn SIGTERM into KeyboardInterrupt.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    target: subprocess.Popen[bytes] | None = None
    try:
        port = args.port
        if port == 0:
            target, port = start_target()
        figures = run_peer(port, args.targets, args.interval, args.duration)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        _stop(target)

    if args.json:
        print(json.dumps(asdict(figures)))
    else:
        print(
            f"peer (prometheus + blackbox exporter): {args.targets} targets every {args.interval:g}s, "
            f"{figures.seconds:.1f}s window\n"
            f"  probes:            {figures.probes} ({figures.probes / figures.seconds:.1f}/s)\n"
            f"  cpu per probe:     {figures.cpu_ms_per_probe:.2f} ms\n"
            f"  prometheus rss:    {figures.prometheus_rss_mb:.0f} MiB\n"
            f"  exporter rss:      {figures.exporter_rss_mb:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
