"""``sql`` steps: each statement against a database of the stack file, its rows as a small table.

Which database: ``db=NAME`` names a service (its one postgres or mysql check), a check
(``service.check``) or an ``env:`` variable holding a URL. Without it, ``DATABASE_URL`` (as the
runbook's own ``psql $DATABASE_URL`` lines use it), else the stack file's only database check.
Statements run one at a time, each committed, and the step stops at the first that fails, as
``psql -v ON_ERROR_STOP=1`` would. At most ``MAX_ROWS`` rows of an answer are read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlparse

from vigil.config.secrets import redact_url
from vigil.probes.mysql import MysqlCheck
from vigil.probes.postgres import PostgresCheck
from vigil.runbooks.model import Step
from vigil.runbooks.outcome import StepStatus
from vigil.runbooks.steps.base import Ran, Setting
from vigil.runbooks.steps.sql_drivers import DRIVERS, StatementFailed
from vigil.runbooks.transcript import Transcript

ENV_DEFAULT = "DATABASE_URL"


@dataclass(frozen=True)
class Database:
    name: str  # how the stack file names it: api.db, DATABASE_URL
    url: str


def databases(setting: Setting) -> dict[str, str]:
    """Every database check of the stack file by id, and its URL."""
    found: dict[str, str] = {}
    for spec in setting.stack.specs():
        if isinstance(spec.config, PostgresCheck):
            found[spec.id] = spec.config.postgres
        elif isinstance(spec.config, MysqlCheck):
            found[spec.id] = spec.config.mysql
    return found


def target(step: Step, setting: Setting) -> Database | str:
    """The step's database, or what to do so that it has one."""
    checks = databases(setting)
    choices = ", ".join([*checks, *([ENV_DEFAULT] if ENV_DEFAULT in setting.env else [])]) or "none"
    wanted = step.attributes.db
    if wanted:
        if wanted in checks:
            return Database(wanted, checks[wanted])
        own = [check for check in checks if check.split(".")[0] == wanted]
        if len(own) == 1:
            return Database(own[0], checks[own[0]])
        if own:
            return (
                f"service {wanted} has several databases ({', '.join(own)}); name one with db=service.check"
            )
        if wanted in setting.env:
            return Database(wanted, setting.env[wanted])
        return f"db={wanted} names no database check, service or env: variable; choices: {choices}"
    if ENV_DEFAULT in setting.env:
        return Database(ENV_DEFAULT, setting.env[ENV_DEFAULT])
    if len(checks) == 1:
        name, url = next(iter(checks.items()))
        return Database(name, url)
    if checks:
        return f"name the database with db=… on the fence; choices: {choices}"
    return f"set {ENV_DEFAULT} (stack file env: or the environment) or add a postgres or mysql check"


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
