"""A maintenance checklist of the stack file whose items name chores, run on a database of the
test's own on the local PostgreSQL: the chores run through the chores' service, one that changes
the database only when confirmed, the rest listed by hand, and the run in the audit log."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli.test_db import SRC
from tests.maintenance.chores.conftest import pg_url  # noqa: F401  (a fixture)
from vigil.config.load import parse_stack
from vigil.errors import ConfigError, NotFoundError
from vigil.maintenance.checklists import ItemStatus, run_checklist


def stack_text(url: str) -> str:
    items = [
        "Review and rotate API keys",
        {"chore": "sizes shop.db --limit 1"},
        {"chore": "vacuum shop.db orders"},
    ]
    return yaml.safe_dump(
        {
            "services": {"shop": {"checks": {"db": {"postgres": url}}}},
            "maintenance": {"checklists": {"monthly": {"schedule": "0 3 1 * *", "items": items}}},
        }
    )


async def test_chores_run_by_the_service_and_a_change_waits_for_confirmation(
    pg_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="vigil.audit")
    stack = parse_stack("vigil.yaml", stack_text(pg_url), {})
    first = await run_checklist(stack, "monthly", {}, actor="ana", confirmed=False)
    assert [o.status for o in first] == [ItemStatus.BY_HAND, ItemStatus.DONE, ItemStatus.UNCONFIRMED]
    assert any("orders" in line for line in first[1].output)
    assert first[2].reason == "vacuum changes shop.db; confirm the run"
    done = await run_checklist(stack, "monthly", {}, actor="ana", confirmed=True)
    assert [o.status for o in done] == [ItemStatus.BY_HAND, ItemStatus.DONE, ItemStatus.DONE]
    assert "tables: ['public.orders']" in done[2].output
    audited = [r.getMessage() for r in caplog.records if r.name == "vigil.audit"]
    assert audited[0] == "ana ran maintenance checklist monthly: 1 done, 0 failed, 1 unconfirmed, 1 by hand"
    assert audited[1].startswith("ana vacuumed and analyzed orders on shop.db (postgresql://")
    assert audited[2] == "ana ran maintenance checklist monthly: 2 done, 0 failed, 0 unconfirmed, 1 by hand"


async def test_a_failing_chore_is_its_outcome_and_an_unknown_checklist_is_named(pg_url: str) -> None:  # noqa: F811
    text = stack_text(pg_url).replace("vacuum shop.db orders", "vacuum shop.db nosuch")
    stack = parse_stack("vigil.yaml", text, {})
    outcomes = await run_checklist(stack, "monthly", {}, actor="ana", confirmed=True)
    assert outcomes[2].status is ItemStatus.FAILED and "no table 'nosuch'" in (outcomes[2].reason or "")
    with pytest.raises(
        NotFoundError, match=r"no maintenance checklist 'weekly' in vigil\.yaml; its checklists: monthly"
    ):
        await run_checklist(stack, "weekly", {}, actor="ana", confirmed=True)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "{chore: reindex shop.db}",
            "items[0].chore: write a chore first (vacuum, sizes, kill-idle, long-queries)",
        ),
        ("{chore: vacuum}", "items[0].chore: name the database after vacuum"),
        ("{chore: vacuum shop.db, db: x}", "items[0].db: unknown key 'db'"),
    ],
)
def test_a_wrong_chore_item_is_a_fault_at_its_line(item: str, message: str) -> None:
    text = f"maintenance:\n  checklists:\n    monthly:\n      items:\n        - {item}\n"
    with pytest.raises(ConfigError) as caught:
        parse_stack("vigil.yaml", text, {})
    assert "vigil.yaml:5:" in str(caught.value) and f"maintenance.checklists.monthly.{message}" in str(
        caught.value
    )


def test_the_cli_asks_for_yes_then_runs_and_audits(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "vigil.yaml").write_text(stack_text(pg_url))
    asked = maintenance(tmp_path, "checklist", "monthly", "--as", "bo")
    assert asked.returncode == 2 and "run again with --yes" in asked.stderr
    assert "[by hand] Review and rotate API keys" in asked.stdout
    done = maintenance(tmp_path, "checklist", "monthly", "--as", "bo", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert [o["status"] for o in json.loads(done.stdout)] == ["by hand", "done", "done"]
    assert "vigil.audit: bo vacuumed and analyzed orders on shop.db" in done.stderr


def maintenance(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIGIL_CONFIG")}
    env["PYTHONPATH"] = SRC
    command = [sys.executable, "-m", "vigil.cli", "maintenance", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=cwd, env=env)
