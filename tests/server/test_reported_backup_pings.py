"""A backup made elsewhere reports to a served Vigil as its job would: ``curl`` on
``/ping/<key>`` (the key the stack file gives), ``/fail`` when it failed; the check
``backups.<job>`` follows, and ``vigil backup run`` refuses a job it cannot take."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.conftest import uvicorn_served
from tests.server.test_ping_routes import curl, eventually
from vigil.backups.jobs import job_named
from vigil.errors import BackupRefused

KEY = "offsite-backup-key-0123456789"
STACK = """
server: {public_read: true}
backups:
  offsite: {engine: heartbeat, rpo: 26h, key: "${OFFSITE_KEY}"}
"""


async def test_the_jobs_pings_fail_and_pass_its_check(tmp_path: Path) -> None:
    async with uvicorn_served(tmp_path, STACK, {"OFFSITE_KEY": KEY}) as (url, runtime, _):
        board = runtime.board.checks["backups.offsite"]
        assert await curl("--data-binary", "rclone: quota exceeded", f"{url}/ping/{KEY}/fail") == (200, "OK")
        await eventually(lambda: board.last is not None and not board.last.ok, "the check to fail")
        assert board.last is not None and board.last.reason is not None
        assert board.last.reason.startswith("the last backup reported a failure at ")
        assert board.last.reason.endswith(": rclone: quota exceeded")
        assert await curl(f"{url}/ping/{KEY}") == (200, "OK")
        await eventually(lambda: board.last is not None and board.last.ok, "the check to pass")
        assert board.last is not None and board.last.values["recovery_point_seconds"] < 5
        with pytest.raises(BackupRefused, match="made elsewhere and reports by ping"):
            job_named(runtime.stack, "offsite")
        assert runtime.backups.jobs == []  # nothing for Vigil itself to take
