"""Opening Vigil's state database and bringing its schema up to date.

SQLite (WAL) in ``.vigil/vigil.db`` beside the stack file by default; any PostgreSQL URL for
shared state. The schema is owned by Alembic: opening a database runs pending migrations, so a
new version of Vigil upgrades an existing store in place.

Only ``vigil up`` (and the demo) create a store. The shell's commands open one that exists
(``create=False``): a silence written to a store made afresh in the wrong folder would be a
silence the server never sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from vigil.config.secrets import redact_url
from vigil.errors import StoreError, StoreMissing

DEFAULT_DIR = Path(".vigil")
MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision (tests/store/test_migrations.py holds it to Alembic's head): a store
# already at it opens without Alembic, which is imported only to migrate (about 12 MiB of modules).
SCHEMA_HEAD = "0015"


def default_url(directory: Path = DEFAULT_DIR) -> str:
    return f"sqlite+aiosqlite:///{directory / 'vigil.db'}"


def stack_store_url(stack_file: str | Path, url: str | None) -> str:
    """The store a stack file names, wherever the command runs from: its ``store.url`` (a
    relative SQLite path taken from the stack file's folder), else ``.vigil/vigil.db`` beside it.
    ``vigil up`` and every command of the shell agree on it through here."""
    folder = Path(stack_file).absolute().parent
    if url is None:
        return default_url(folder / DEFAULT_DIR)
    parsed = make_url(async_url(url))
    database = parsed.database
    if parsed.drivername.startswith("sqlite") and database not in (None, "", ":memory:"):
        absolute = folder / str(database)  # an absolute path stays as it is
        return parsed.set(database=str(absolute)).render_as_string(hide_password=False)
    return url


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


async def open_database(url: str | None = None, *, create: bool = True) -> AsyncEngine:
    """An engine on ``url`` (default: SQLite in ``.vigil/``) with the schema migrated to head.
    With ``create=False`` a store that does not exist yet (no SQLite file, or a PostgreSQL
    database without Vigil's tables) raises ``StoreMissing`` and nothing is created."""
    target = async_url(url) if url else default_url()
    parsed = make_url(target)
    sqlite = parsed.drivername.startswith("sqlite")
    if sqlite and parsed.database not in (None, "", ":memory:"):
        _sqlite_file(Path(parsed.database), create)
    elif sqlite and not create:
        raise StoreMissing(f"no Vigil store at {redact_url(url or target)}")
    engine = create_async_engine(target, pool_pre_ping=True)
    if sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        async with engine.begin() as conn:
            if not create and not await conn.run_sync(_has_schema):
                raise StoreMissing(f"no Vigil store at {redact_url(url or target)} (no Vigil tables there)")
            await conn.run_sync(_upgrade)
    except StoreMissing:
        await engine.dispose()
        raise
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


def _sqlite_file(path: Path, create: bool) -> None:
    """Make room for a new SQLite store, or insist that it exists (without ``create``)."""
    if not create and not path.is_file():
        raise StoreMissing(f"no Vigil store at {path.absolute()}")
    path.parent.mkdir(parents=True, exist_ok=True)


def _has_schema(connection: Connection) -> bool:
    return inspect(connection).has_table("alembic_version")


def _upgrade(connection: Connection) -> None:
    if _has_schema(connection):
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if found == [SCHEMA_HEAD]:
            return
    # Imported here: only a store to migrate needs Alembic.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
