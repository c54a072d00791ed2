"""How long the ``vigil`` command takes to answer: start-up and imports included, as a user waits.

    python bench/cli_start.py                     # 15 runs of each command
    python bench/cli_start.py --runs 5
    python bench/cli_start.py --src /other/checkout/src   # the same commands from another tree

Each command runs in a fresh process (``python -m vigil.cli``) with ``--src`` first on the path;
the figures are the median wall time and the median CPU time (user + system, ``os.wait4``) over
``--runs``. CPU time is the steadier figure on a shared machine, where wall time moves with the
load. ``incident list`` reads a small store (one incident) made in a temporary folder first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK = """services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health"}
"""
MAKE_STORE = """
import asyncio, sys
from vigil.store.database import open_database
async def make():
    await (await open_database(sys.argv[1])).dispose()
asyncio.run(make())
"""


def commands(folder: Path) -> dict[str, list[str]]:
    store = ["-c", str(folder / "vigil.yaml"), "--db", f"sqlite:///{folder}/vigil.db"]
    return {
        "vigil --version": ["--version"],
        "vigil version": ["version"],
        "vigil validate -c examples/local.yaml": ["validate", "-c", str(ROOT / "examples" / "local.yaml")],
        "vigil incident list (1 incident)": ["incident", "list", *store],
        "vigil --help": ["--help"],
    }


class Failed(Exception):
    pass


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``vigil`` process; ``Failed`` with its last line when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert proc.stderr is not None
    errors = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise Failed(errors.strip().splitlines()[-1] if errors.strip() else f"exit {status}")
    return wall, usage.ru_utime + usage.ru_stime


def make_store(folder: Path, env: dict[str, str]) -> None:
    (folder / "vigil.yaml").write_text(STACK)
    subprocess.run([sys.executable, "-c", MAKE_STORE, f"sqlite:///{folder}/vigil.db"], env=env, check=True)
    store = ["-c", str(folder / "vigil.yaml"), "--db", f"sqlite:///{folder}/vigil.db"]
    run(["incident", "open", "Chat not responding", "--severity", "P2", *store], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--src",
        type=Path,
        action="append",
        help="A source tree to time (default: this one); given twice, runs of the two alternate.",
    )
    options = parser.parse_args()
    trees: list[Path] = [tree.resolve() for tree in options.src or [ROOT / "src"]]
    envs = {
        tree: {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]),
            "USER": "bench",
        }
        for tree in trees
    }
    print(f"{'command':<40} {'wall (median)':>14} {'CPU (median)':>13}   ({options.runs} runs)")
    with tempfile.TemporaryDirectory() as tmp:
        folders = {tree: Path(tmp) / str(i) for i, tree in enumerate(trees)}
        for tree, folder in folders.items():
            folder.mkdir()
            make_store(folder, envs[tree])
        for name in commands(Path(tmp)):
            for tree, (wall, cpu) in _timed(name, options.runs, folders, envs).items():
                shown = f"{wall:>12.2f} s {cpu:>11.2f} s" if wall >= 0 else f"{'fails':>14}"
                print(f"{name:<40} {shown}   {tree}" if len(trees) > 1 else f"{name:<40} {shown}", flush=True)


def _timed(
    name: str, runs: int, folders: dict[Path, Path], envs: dict[Path, dict[str, str]]
) -> dict[Path, tuple[float, float]]:
    """Median wall and CPU time per tree (-1 where the command fails there, e.g. an older tree
    without the option), the trees' runs alternating so that they share the machine's load."""
    samples: dict[Path, list[tuple[float, float]]] = {tree: [] for tree in folders}
    failed: set[Path] = set()
    for _ in range(runs):
        for tree in folders.keys() - failed:
            try:
                samples[tree].append(run(commands(folders[tree])[name], envs[tree]))
            except Failed:
                failed.add(tree)
    return {
        tree: (-1.0, -1.0)
        if tree in failed
        else (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for tree, got in samples.items()
    }


if __name__ == "__main__":
    main()
