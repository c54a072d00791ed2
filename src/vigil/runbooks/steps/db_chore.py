"""``vigil-db`` steps: one database chore, written as after ``vigil db`` in a shell.

    ```vigil-db {db=shop.db}
    kill-idle --older-than 10m --limit 50
    ```

The database is chosen as for ``sql`` steps (``db=``, ``DATABASE_URL``, the only database
check). ``kill-idle`` and ``vacuum`` change the database, so a run asks for confirmation first
(``runbooks/safety.py``); ``sizes`` and ``long-queries`` only read.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import replace
from typing import Any

from vigil.config.databases import Database
from vigil.config.durations import parse_duration
from vigil.config.secrets import redact_url
from vigil.errors import VigilError
from vigil.maintenance.chores.model import DEFAULT_ROWS, DEFAULT_VACUUM_TIMEOUT, Answer, Chore
from vigil.maintenance.chores.service import DatabaseChores, chores_for
from vigil.runbooks.model import Step
from vigil.runbooks.outcome import StepStatus
from vigil.runbooks.steps.base import Ran, Setting
from vigil.runbooks.steps.sql import target
from vigil.runbooks.steps.sql_drivers import table
from vigil.runbooks.transcript import Transcript

OPTIONS = {"--older-than", "--longer-than", "--limit", "--timeout"}
CHANGES = {Chore.KILL_IDLE, Chore.VACUUM}


def read(code: str) -> tuple[Chore, dict[str, str], list[str]] | str:
    """The chore, its options and its words (a vacuum's tables), or what is wrong with them."""
    try:
        words = [w for line in code.splitlines() for w in shlex.split(line, comments=True)]
    except ValueError as err:
        return f"the chore cannot be read: {err}"
    if words[:1] == ["db"]:
        words = words[1:]  # written as the whole command: vigil db sizes
    if not words or words[0] not in {c.value for c in Chore}:
        return f"write one chore: {', '.join(c.value for c in Chore)}"
    options: dict[str, str] = {}
    rest: list[str] = []
    items = iter(words[1:])
    for word in items:
        if word in OPTIONS:
            options[word] = next(items, "")
        elif word in ("--no-analyze", "--yes"):
            options[word] = ""
        elif word.startswith("-"):
            return f"{word} is no option of a chore step; options: {', '.join(sorted(OPTIONS))}, --no-analyze"
        else:
            rest.append(word)
    return Chore(words[0]), options, rest


async def perform(
    chores: DatabaseChores, chore: Chore, options: dict[str, str], rest: list[str]
) -> Answer | list[Answer]:
    limit = int(options.get("--limit") or DEFAULT_ROWS)
    if chore is Chore.SIZES:
        return await chores.sizes(limit)
    if chore is Chore.LONG_QUERIES:
        return list(await chores.long_queries(parse_duration(options.get("--longer-than", "1m")), limit))
    if chore is Chore.KILL_IDLE:
        return await chores.kill_idle(
            parse_duration(options.get("--older-than", "5m")), kill=True, limit=limit
        )
    longest = parse_duration(options.get("--timeout") or DEFAULT_VACUUM_TIMEOUT)
    return await chores.vacuum(rest, analyze="--no-analyze" not in options, longest=longest)


def lines(answer: Answer | list[Answer]) -> list[str]:
    """The answer as small tables, one per list in it."""
    items: list[dict[str, Any]] = (
        [a.as_dict() for a in answer] if isinstance(answer, list) else [answer.as_dict()]
    )
    if isinstance(answer, list):
        return _rows(items)
    out: list[str] = []
    for key, value in items[0].items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            out += [f"{key}:", *_rows(value)]
        elif value not in (None, [], {}, ""):
            out.append(f"{key}: {value}")
    return out


def _rows(items: list[dict[str, Any]]) -> list[str]:
    if not items:
        return ["(0 rows)"]
    columns = [k for k in items[0] if any(i[k] not in (None, "") for i in items)]
    return table(columns, [[i[c] for c in columns] for i in items], False)


class DbChoreStep:
    def missing(self, step: Step, setting: Setting) -> list[str]:
        database = target(step, setting)
        problems = [database] if isinstance(database, str) else []
        read_as = read(step.code)
        return problems + ([read_as] if isinstance(read_as, str) else [])

    def command(self, step: Step, setting: Setting) -> str:
        database = target(step, setting)
        where = f"on {database.name} ({redact_url(database.url)}): " if isinstance(database, Database) else ""
        return f"{where}vigil db {' '.join(step.code.split())}"

    async def run(self, step: Step, setting: Setting, out: Transcript) -> Ran:
        database = target(step, setting)
        read_as = read(step.code)
        if isinstance(database, str) or isinstance(read_as, str):
            return Ran.failed(database if isinstance(database, str) else str(read_as))
        chore, options, rest = read_as
        limit = setting.timeout(step)
        try:
            # Named as the step names it (db=shop.db), for the audit log.
            chores = replace(
                chores_for(database.url, setting.stack, setting.env, actor=setting.actor), database=database
            )
            async with asyncio.timeout(limit):
                answer = await perform(chores, chore, options, rest)
        except TimeoutError:
            return Ran(StepStatus.TIMED_OUT, None, f"timed out after {limit:g}s")
        except (VigilError, ValueError) as err:
            return Ran.failed(str(err))
        for line in lines(answer):
            out.line(line)
        failed = getattr(answer, "failed", None)
        if failed:
            return Ran.failed(f"{len(failed)} session(s) not ended")
        return Ran(StepStatus.SUCCEEDED, 0)
