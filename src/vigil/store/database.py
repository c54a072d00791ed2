"""Opening Vigil's state database and bringing its schema up to date.

SQLite (WAL) in ``.vigil/vigil.db`` by default; any PostgreSQL URL for shared state. The
schema is owned by Alembic: opening a database runs pending migrations, so a new version of
Vigil upgrades an existing store in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from vigil.config.secrets import redact_url
from vigil.errors import StoreError

DEFAULT_DIR = Path(".vigil")
MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(directory: Path = DEFAULT_DIR) -> str:
    return f"sqlite+aiosqlite:///{directory / 'vigil.db'}"


def async_url(url: str) -> str:
    """Accept the URLs people write (``postgresql://``, ``sqlite:///``) and pick the async driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"database URL {redact_url(url)!r} is not a URL; use sqlite:///path or postgresql://…"
        ) from None
    driver = {
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    if parsed.drivername not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise StoreError(f"database {parsed.drivername!r} is not supported; use SQLite or PostgreSQL")
    return parsed.render_as_string(hide_password=False)


async def open_database(url: str | None = None) -> AsyncEngine:
    """An engine on ``url`` (default: SQLite in ``.vigil/``) with the schema migrated to head."""
    target = async_url(url) if url else default_url()
    parsed = make_url(target)
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target, pool_pre_ping=True)
    if parsed.drivername.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
    except (SQLAlchemyError, OSError) as err:
        await engine.dispose()
        detail = str(getattr(err, "orig", None) or err).splitlines()[0]
        raise StoreError(
            f"cannot open the state database {redact_url(target)}: {redact_url(detail)}"
        ) from None
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the dashboard read while the scheduler writes; NORMAL sync is safe under WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
