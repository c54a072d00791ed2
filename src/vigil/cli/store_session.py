"""Commands that read or change Vigil's state from a shell: open the store of the stack file
(``-c``, ``VIGIL_CONFIG``, or the nearest ``vigil.yaml`` up from here) or of ``--db``, run one
service call, close it, and turn a ``VigilError`` into one line and an exit code.

They never create a store: one that does not exist yet is exit 2 naming where it looked, since
a silence or a token recorded in a fresh store is one the running server never sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from vigil.cli.app import fail
from vigil.config.discovery import find_stack_file, stack_file_or_fail
from vigil.errors import StoreMissing, VigilError

if TYPE_CHECKING:
    # The store and the stack file's schema load when a command runs, not when it is registered.
    from sqlalchemy.ext.asyncio import AsyncEngine

    from vigil.config.load import Stack
    from vigil.config.stack import StackFile

T = TypeVar("T")


def locate_store(config: Path | None, db: str | None) -> tuple[Stack, Path | None, str]:
    """The stack file (an empty one with only ``--db`` and none found), its path, and the store URL."""
    stack, path = locate_stack(config, db)
    return stack, path, store_url(stack, db)


def locate_stack(config: Path | None, db: str | None) -> tuple[Stack, Path | None]:
    """``locate_store`` less the store's URL, which needs the store's code loaded."""
    from vigil.config.load import Stack, load_stack
    from vigil.config.secrets import Redactor
    from vigil.config.stack import StackFile

    if db is not None:
        found = config or find_stack_file()
        stack = (
            load_stack(found) if found is not None else Stack("", StackFile.model_validate({}), Redactor())
        )
        return stack, found
    path = stack_file_or_fail(config, or_db=True)
    return load_stack(path), path


def store_url(stack: Stack, db: str | None) -> str:
    """``--db``, else the store the stack file names."""
    if db is not None:
        return db
    from vigil.store.database import stack_store_url

    return stack_store_url(stack.file, stack.model.store.url)


async def open_existing(url: str, stack_file: Path | None, *, from_db: bool) -> AsyncEngine:
    """The store at ``url``, which must exist; ``StoreMissing`` says what to do when it does not."""
    from vigil.store.database import open_database

    try:
        return await open_database(url, create=False)
    except StoreMissing as err:
        if from_db:
            raise StoreMissing(f"{err}; check --db, or start `vigil up` with that --db first") from None
        raise StoreMissing(f"{err}; start `vigil up -c {stack_file}` first or pass --db") from None


def with_store(
    config: Path | None, db: str | None, work: Callable[[StackFile, AsyncEngine], Awaitable[T]]
) -> T:
    return with_stack(config, db, lambda stack, engine: work(stack.model, engine))


def with_stack(config: Path | None, db: str | None, work: Callable[[Stack, AsyncEngine], Awaitable[T]]) -> T:
    """``with_store`` for work that needs the stack file itself: its place, its redactor."""

    async def go() -> T:
        stack, path, url = locate_store(config, db)
        engine = await open_existing(url, path, from_db=db is not None)
        try:
            return await work(stack, engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except VigilError as err:
        fail(err)
