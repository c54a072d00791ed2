"""The database chores as one service: which database (a URL, or a name the stack file gives
one, resolved as runbook ``sql`` steps resolve ``db=``), which engine, and the bounds checked.

The CLI (``vigil db …``), the API (``/api/v1/db/…``) and runbook steps all call ``chores_for``
and then one method of ``DatabaseChores``. What changes a database (a confirmed ``kill-idle``, a
``vacuum``) goes to the audit log (``vigil.audit``) here, with who asked, whichever face asked,
and whether it failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vigil.config.databases import Database, choose, databases
from vigil.config.load import Stack
from vigil.config.secrets import Redactor, redact_url
from vigil.errors import VigilError
from vigil.maintenance.chores.caller import own_endpoints
from vigil.maintenance.chores.mariadb import MariadbChores
from vigil.maintenance.chores.model import (
    DEFAULT_ROWS,
    DEFAULT_VACUUM_TIMEOUT,
    LONGEST_VACUUM,
    Bounds,
    ChoreEngine,
    ChoreInputError,
    IdleAsk,
    IdleSweep,
    Session,
    Sizes,
    Vacuum,
)
from vigil.maintenance.chores.postgres import PostgresChores

audit = logging.getLogger("vigil.audit")

ENGINES: dict[str, ChoreEngine] = {
    "postgresql": PostgresChores(),
    "postgres": PostgresChores(),
    "mysql": MariadbChores(),
    "mariadb": MariadbChores(),
}


@dataclass(frozen=True)
class DatabaseChores:
    database: Database
    engine: ChoreEngine
    redact: Callable[[str], str]
    actor: str = "vigil"  # who asked, for the audit log

    @property
    def shown(self) -> str:
        return f"{self.database.name} ({redact_url(self.database.url)})"

    async def sizes(self, limit: int = DEFAULT_ROWS) -> Sizes:
        return await self.engine.sizes(self.database.url, Bounds(limit))

    async def long_queries(self, longer_than: float, limit: int = DEFAULT_ROWS) -> list[Session]:
        return await self.engine.long_queries(self.database.url, longer_than, Bounds(limit), self.redact)

    async def kill_idle(
        self, older_than: float, *, kill: bool, limit: int = DEFAULT_ROWS, keep: frozenset[int] = frozenset()
    ) -> IdleSweep:
        """The sessions idle past ``older_than``; ended only when ``kill`` (a confirmed run)."""
        if older_than <= 0:
            raise ChoreInputError("--older-than must be longer than 0s")
        ask = IdleAsk(older_than, Bounds(limit), kill, keep, self.redact, own_endpoints())
        if not kill:
            return await self.engine.kill_idle(self.database.url, ask)
        try:
            sweep = await self.engine.kill_idle(self.database.url, ask)
        except BaseException as err:
            audit.info("%s's kill-idle on %s failed: %s", self.actor, self.shown, self._why(err))
            raise
        failed = f"; not ended: {sorted(sweep.failed)}" if sweep.failed else ""
        audit.info(
            "%s ended %d idle session(s) on %s (idle over %gs): %s%s",
            self.actor,
            len(sweep.killed),
            self.shown,
            older_than,
            sweep.killed,
            failed,
        )
        return sweep

    async def vacuum(
        self,
        tables: list[str] | None = None,
        *,
        analyze: bool = True,
        longest: float = DEFAULT_VACUUM_TIMEOUT,
    ) -> Vacuum:
        if not 0 < longest <= LONGEST_VACUUM:
            raise ChoreInputError(f"--timeout must be longer than 0s and at most {LONGEST_VACUUM / 3600:g}h")
        what = ", ".join(tables or []) or "the whole database"
        try:
            done = await self.engine.vacuum(self.database.url, list(tables or []), analyze, longest)
        except BaseException as err:
            audit.info("%s's vacuum of %s on %s failed: %s", self.actor, what, self.shown, self._why(err))
            raise
        audit.info(
            "%s vacuumed%s %s on %s in %.1fs",
            self.actor,
            " and analyzed" if analyze else "",
            what,
            self.shown,
            done.seconds,
        )
        return done

    def _why(self, err: BaseException) -> str:
        # A timeout or a cancelled run is recorded too: the chore may have changed part of the database.
        return self.redact(str(err)) if isinstance(err, VigilError) else f"stopped ({type(err).__name__})"


def chores_for(
    wanted: str | None,
    stack: Stack | None,
    environ: Mapping[str, str],
    *,
    asked_as: str = "db=",
    actor: str = "vigil",
) -> DatabaseChores:
    """The chores of the database ``wanted`` names: a URL, or a check, service or variable of
    ``stack`` (with ``environ`` and the stack's ``env:``); without it, ``DATABASE_URL`` or the
    stack file's only database check. ``asked_as`` is how the caller's user wrote the name
    (``db=``, ``--db ``), for the message when it names nothing; ``actor`` who asks, for the audit."""
    redact: Callable[[str], str] = stack.redactor if stack is not None else Redactor()
    if wanted and "://" in wanted:
        database: Database | str = Database("--db", wanted)
    else:
        env = {**environ, **(stack.model.env if stack is not None else {})}
        found = choose(wanted, databases(stack) if stack is not None else {}, env)
        database = found.replace("db=", asked_as) if isinstance(found, str) else found
    if isinstance(database, str):
        raise ChoreInputError(database if stack is not None else f"{database}; or pass a URL")
    scheme = database.url.split("://", 1)[0].lower()
    if scheme not in ENGINES:
        raise ChoreInputError(
            f"{database.name} is not a postgresql:// or mysql:// URL (it starts {scheme[:20]!r})"
        )
    return DatabaseChores(database, ENGINES[scheme], redact, actor)
