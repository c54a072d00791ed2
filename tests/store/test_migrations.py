"""The store's migrations on SQLite and PostgreSQL: an empty store upgrades to the schema the
tables describe (0014's alert states included), and a store at 0010 upgrades to 0011 keeping its incidents' groups (members
made from the opener and the join lines, carried to the incident a duplicate was merged into)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.incidents.test_membership import STACK_FILE as STACK
from vigil.engine.clock import FakeClock
from vigil.incidents.check_incidents import join, members
from vigil.incidents.service import IncidentService
from vigil.probes.base import Result
from vigil.store.database import MIGRATIONS, SCHEMA_HEAD, async_url, open_database
from vigil.store.tables import Base, IncidentMemberRow, IncidentRow

AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def bare(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database, not migrated, once on SQLite and once on PostgreSQL."""
    url = (
        f"sqlite:///{tmp_path}/vigil.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = create_async_engine(async_url(url))
    yield engine
    await engine.dispose()


def migrate(connection: sa.Connection, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, revision)


def differences(connection: sa.Connection) -> list[Any]:
    return compare_metadata(MigrationContext.configure(connection), Base.metadata)


async def test_an_empty_store_upgrades_to_what_the_tables_describe(bare: AsyncEngine) -> None:
    async with bare.begin() as conn:
        await conn.run_sync(migrate, "head")
        found = await conn.run_sync(differences)
    touched = [
        d
        for d in found
        if any(
            name in repr(d)
            for name in ("incident_members", "'stack'", "heartbeats", "pings", "backup_runs", "alert_states")
        )
    ]
    assert touched == []
    async with bare.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in sa.inspect(c).get_columns("incidents")}
        )
        assert "stack" in columns
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert version == ScriptDirectory(str(MIGRATIONS)).get_current_head() == SCHEMA_HEAD


TZ = sa.DateTime(timezone=True)
INCIDENTS = sa.table(
    "incidents",
    *(sa.column(n) for n in ("id", "key", "title", "status", "severity", "service", "check_id")),
    sa.column("channels", sa.JSON),
    *(sa.column(n, TZ) for n in ("opened_at", "respond_by", "resolved_at")),
    sa.column("merged_into"),
)
EVENTS = sa.table(
    "incident_events", sa.column("incident_id"), sa.column("at", TZ), sa.column("kind"), sa.column("text")
)


def incident(incident_id: int, key: str, check_id: str | None, **more: Any) -> dict[str, Any]:
    return {
        "id": incident_id,
        "key": key,
        "title": key,
        "status": "triggered",
        "severity": "P2",
        "service": "api",
        "check_id": check_id,
        "channels": [],
        "opened_at": AT,
        "respond_by": AT + timedelta(hours=1),
        "resolved_at": None,
        "merged_into": None,
        **more,
    }


def line(incident_id: int, minutes: int, text: str) -> dict[str, Any]:
    return {"incident_id": incident_id, "at": AT + timedelta(minutes=minutes), "kind": "note", "text": text}


async def test_a_store_at_0010_keeps_its_groups_as_members(bare: AsyncEngine) -> None:
    async with bare.begin() as conn:
        await conn.run_sync(migrate, "0010")
        await conn.execute(
            sa.insert(INCIDENTS),
            [
                incident(1, "check-group:api", "api.health"),
                incident(2, "check-group:web", "web.home", status="resolved", resolved_at=AT, merged_into=1),
                incident(3, "alert:HighLatency:ab12", None),
            ],
        )
        await conn.execute(
            sa.insert(EVENTS),
            [
                line(1, 0, "api.health failed 1 time in a row: HTTP 503"),
                line(1, 1, "api.ready also failing (2 times in a row): HTTP 503"),
                line(1, 2, "api.live also failing (1 time in a row): connection refused"),
                line(1, 3, "ana: is api.health also failing (again)?"),  # a person's note: no member
                line(2, 1, "web.static also failing (1 time in a row): HTTP 404"),
                line(3, 0, "HighLatency firing"),
            ],
        )
    url = bare.url.render_as_string(hide_password=False)
    upgraded = await open_database(url)  # as vigil up does: on to head
    try:
        async with upgraded.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(IncidentMemberRow.incident_id, IncidentMemberRow.check_id).order_by(
                        IncidentMemberRow.incident_id, IncidentMemberRow.joined_at, IncidentMemberRow.id
                    )
                )
            ).all()
            stacks = (await conn.execute(sa.select(IncidentRow.stack))).scalars().all()
        assert stacks == [None, None, None]  # no stack file is known to have opened them
        assert [tuple(r) for r in rows] == [
            (1, "api.health"),
            (1, "web.home"),  # from the merged incident, dated when it was merged (resolved)
            (1, "web.static"),
            (1, "api.ready"),
            (1, "api.live"),
            (2, "web.home"),
            (2, "web.static"),
        ]
        # A member from before the upgrade is not noted again when it fails on.
        incidents = IncidentService(upgraded, STACK.model, FakeClock(AT + timedelta(minutes=5)))
        survivor = await incidents.get(1)
        before = await incidents.timeline(1)
        spec = {s.id: s for s in STACK.specs()}["api.live"]
        failed = Result("api.live", False, 1.0, AT, "connection refused")
        assert await join(incidents, "check-group:api", spec, failed, 3)
        assert await incidents.timeline(1) == before
        assert await members(incidents, survivor) == [
            "api.health",
            "web.home",
            "web.static",
            "api.ready",
            "api.live",
        ]
    finally:
        await upgraded.dispose()


async def test_0011_downgrades_to_0010_and_upgrades_again(bare: AsyncEngine) -> None:
    async with bare.begin() as conn:
        await conn.run_sync(migrate, "head")
        await conn.execute(sa.insert(INCIDENTS), [incident(1, "check-group:api", "api.health")])
        await conn.run_sync(migrate, "0010", down=True)
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "incident_members" not in tables
        await conn.run_sync(migrate, "head")
        found = (await conn.execute(sa.select(IncidentMemberRow.check_id))).scalars().all()
    assert found == ["api.health"]


async def test_0014_downgrades_to_0013_and_upgrades_again(bare: AsyncEngine) -> None:
    async with bare.begin() as conn:
        await conn.run_sync(migrate, "0014")
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "alert_states" in tables
        keys = await conn.run_sync(lambda c: sa.inspect(c).get_pk_constraint("alert_states"))
        assert keys["constrained_columns"] == ["stack", "rule", "fingerprint"]
        await conn.run_sync(migrate, "0013", down=True)
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "alert_states" not in tables
        await conn.run_sync(migrate, "head")
        found = await conn.run_sync(differences)
    assert [d for d in found if "alert_states" in repr(d)] == []


async def test_open_migrates_a_store_behind_and_opens_one_at_head_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/vigil.db"
    bare = create_async_engine(async_url(url))
    async with bare.begin() as conn:
        await conn.run_sync(migrate, "0013")
    await bare.dispose()
    engine = await open_database(url, create=False)  # behind: migrated to head
    async with engine.connect() as conn:
        assert (
            await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        ).scalar_one() == SCHEMA_HEAD
        assert "alert_states" in await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    await engine.dispose()
    # At head: a fresh process opens it without importing Alembic (its modules cost ~12 MiB).
    probe = (
        "import asyncio, sys\n"
        "from vigil.store.database import open_database\n"
        "async def main():\n"
        f"    await (await open_database({url!r}, create=False)).dispose()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
