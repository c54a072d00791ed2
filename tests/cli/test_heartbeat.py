"""``vigil heartbeat url`` as a user runs it: a real process, the stack file's store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from vigil.store.database import open_database

VIGIL = [sys.executable, "-m", "vigil.cli"]
STACK = """
server: {public_url: "https://vigil.example.com/"}
services:
  worker:
    checks:
      beat: {heartbeat: {every: 1m, grace: 30s}}
      given: {heartbeat: {every: 1m, key: "${BEAT_KEY}"}}
      port: {tcp: "127.0.0.1:9"}
"""


def vigil(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIGIL, "heartbeat", "url", *args, "-c", str(tmp_path / "vigil.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "BEAT_KEY": "given-key-0123456789abcdef"},
    )


def stack_with_store(tmp_path: Path) -> None:
    (tmp_path / "vigil.yaml").write_text(STACK)

    async def make() -> None:
        await (await open_database(f"sqlite:///{tmp_path}/.vigil/vigil.db")).dispose()

    asyncio.run(make())


def test_the_url_uses_the_public_url_and_a_key_that_stays_the_same(tmp_path: Path) -> None:
    stack_with_store(tmp_path)
    first = vigil(tmp_path, "worker.beat")
    assert first.returncode == 0, first.stderr
    url, crontab, _ = first.stdout.splitlines()
    assert url.startswith("https://vigil.example.com/ping/") and len(url.rsplit("/", 1)[1]) == 24
    assert crontab == f"# in a crontab, after the job:  && curl -fsS -m 10 --retry 5 -o /dev/null {url}"
    again = json.loads(vigil(tmp_path, "worker.beat", "--json").stdout)
    assert again["url"] == url and again["fail_url"] == f"{url}/fail"


def test_a_key_the_stack_file_gives_needs_no_store(tmp_path: Path) -> None:
    (tmp_path / "vigil.yaml").write_text(STACK)
    done = vigil(tmp_path, "worker.given")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "https://vigil.example.com/ping/given-key-0123456789abcdef"


def test_a_check_that_is_not_a_heartbeat_or_not_there_is_one_line(tmp_path: Path) -> None:
    stack_with_store(tmp_path)
    wrong = vigil(tmp_path, "worker.port")
    assert (wrong.returncode, wrong.stderr.strip()) == (
        1,
        "worker.port is a tcp check, not a heartbeat; it has no ping URL",
    )
    missing = vigil(tmp_path, "worker.bet")
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("its heartbeat checks: worker.beat, worker.given")
    assert "Traceback" not in missing.stderr
