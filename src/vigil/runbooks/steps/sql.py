"""``sql`` steps: each statement against a database of the stack file, its rows as a small table.

Which database: ``db=NAME`` names a service (its one postgres or mysql check), a check
(``service.check``) or an ``env:`` variable holding a URL. Without it, ``DATABASE_URL`` (as the
runbook's own ``psql $DATABASE_URL`` lines use it), else the stack file's only database check.
Statements run one at a time, each committed, and the step stops at the first that fails, as
``psql -v ON_ERROR_STOP=1`` would. At most ``MAX_ROWS`` rows of an answer are read.
"""

from __future__ import annotations

import asyncio

import sqlparse

from vigil.config.databases import Database, choose, databases
from vigil.config.secrets import redact_url
from vigil.runbooks.model import Step
from vigil.runbooks.outcome import StepStatus
from vigil.runbooks.steps.base import Ran, Setting
from vigil.runbooks.steps.sql_drivers import DRIVERS, StatementFailed
from vigil.runbooks.transcript import Transcript


def target(step: Step, setting: Setting) -> Database | str:
    """The step's database, or what to do so that it has one."""
    return choose(step.attributes.db, databases(setting.stack), setting.env)


def statements(code: str) -> list[str]:
    split = (s.strip() for s in sqlparse.split(code))
    # A statement of only comments (a trailing "-- done") has nothing to run.
    return [s for s in split if s and sqlparse.format(s, strip_comments=True).strip()]


class SqlStep:
    def missing(self, step: Step, setting: Setting) -> list[str]:
        database = target(step, setting)
        if isinstance(database, str):
            return [database]
        scheme = database.url.split("://", 1)[0].lower() if "://" in database.url else ""
        if scheme not in DRIVERS:
            return [f"{database.name} is not a postgresql:// or mysql:// URL"]
        if not statements(step.code):
            return ["the block holds no SQL statement"]
        return []

    def command(self, step: Step, setting: Setting) -> str:
        database = target(step, setting)
        where = (
            f"-- on {database.name} ({redact_url(database.url)})\n" if isinstance(database, Database) else ""
        )
        return where + step.code

    async def run(self, step: Step, setting: Setting, out: Transcript) -> Ran:
        database = target(step, setting)
        if isinstance(database, str):  # planned away before a run; kept for direct callers
            return Ran.failed(database)
        driver = DRIVERS[database.url.split("://", 1)[0].lower()]
        limit = setting.timeout(step)
        try:
            async with asyncio.timeout(limit):
                await driver(database.url, statements(step.code), out)
        except TimeoutError:
            return Ran(StepStatus.TIMED_OUT, None, f"timed out after {limit:g}s; the statement was cancelled")
        except StatementFailed as err:
            return Ran.failed(str(err))
        return Ran(StepStatus.SUCCEEDED, 0)
