"""Commands that change Vigil's state from a shell: open the store named by the stack file (or
``--db``), run one service call, close it, and turn a ``VigilError`` into one line and an exit code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.cli.app import fail
from vigil.config.load import Stack, load_stack
from vigil.config.secrets import Redactor
from vigil.config.stack import StackFile
from vigil.errors import VigilError
from vigil.store.database import open_database

T = TypeVar("T")


def with_store(
    config: Path | None, db: str | None, work: Callable[[StackFile, AsyncEngine], Awaitable[T]]
) -> T:
    return with_stack(config, db, lambda stack, engine: work(stack.model, engine))


def with_stack(config: Path | None, db: str | None, work: Callable[[Stack, AsyncEngine], Awaitable[T]]) -> T:
    """``with_store`` for work that needs the stack file itself: its place, its redactor."""

    async def go() -> T:
        stack = load_stack(config) if config else Stack("", StackFile.model_validate({}), Redactor())
        engine = await open_database(db or stack.model.store.url)
        try:
            return await work(stack, engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except VigilError as err:
        fail(err)
