"""Which database a name means: a database check of the stack file (``service.check``), a
service with one such check, or a variable holding a URL; else ``DATABASE_URL``, else the stack
file's only database check. Runbook ``sql`` steps (``db=``) and ``vigil db --db`` agree on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vigil.config.load import Stack
from vigil.probes.mysql import MysqlCheck
from vigil.probes.postgres import PostgresCheck

ENV_DEFAULT = "DATABASE_URL"


@dataclass(frozen=True)
class Database:
    name: str  # how the stack file names it: api.db, DATABASE_URL
    url: str


def databases(stack: Stack) -> dict[str, str]:
    """Every database check of the stack file by id, and its URL."""
    found: dict[str, str] = {}
    for spec in stack.specs():
        if isinstance(spec.config, PostgresCheck):
            found[spec.id] = spec.config.postgres
        elif isinstance(spec.config, MysqlCheck):
            found[spec.id] = spec.config.mysql
    return found


def choose(wanted: str | None, checks: Mapping[str, str], env: Mapping[str, str]) -> Database | str:
    """The database ``wanted`` names (a check, a service with one database check, a variable),
    else ``DATABASE_URL``, else the only database check; or what to do so that there is one."""
    choices = ", ".join([*checks, *([ENV_DEFAULT] if ENV_DEFAULT in env else [])]) or "none"
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
        if wanted in env:
            return Database(wanted, env[wanted])
        return f"db={wanted} names no database check, service or env: variable; choices: {choices}"
    if ENV_DEFAULT in env:
        return Database(ENV_DEFAULT, env[ENV_DEFAULT])
    if len(checks) == 1:
        name, url = next(iter(checks.items()))
        return Database(name, url)
    if checks:
        return f"name the database with db=… on the fence; choices: {choices}"
    return f"set {ENV_DEFAULT} (stack file env: or the environment) or add a postgres or mysql check"
