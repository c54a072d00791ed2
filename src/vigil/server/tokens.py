"""API tokens: made once and shown once, stored as a SHA-256 hash, each with a role.

Tokens are 32 random bytes, so a fast hash is enough (there is nothing to brute-force as with
passwords); the lookup is by hash, which also makes the comparison constant-time in effect.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.engine.clock import Clock
from vigil.errors import AuthError, ForbiddenError
from vigil.server.roles import Role
from vigil.store.tables import ApiTokenRow

# Role lives in ``roles`` (the CLI offers it without loading the store) and is still named here.
__all__ = [
    "LAST_USED_EVERY",
    "LINK_AGE",
    "LINK_PREFIX",
    "PREFIX",
    "Principal",
    "Role",
    "authenticate",
    "create_login_link",
    "create_token",
    "digest",
    "redeem_login_link",
    "revoke_token",
]

PREFIX = "vgl_"
LINK_PREFIX = "vgl_link_"
LINK_AGE = timedelta(hours=1)
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role

    def require(self, role: Role) -> None:
        if self.role.rank < role.rank:
            raise ForbiddenError(f"this needs the {role} role; token {self.name!r} has {self.role}")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(engine: AsyncEngine, clock: Clock, name: str, role: Role) -> str:
    """A new token; the caller shows it once, only its hash is kept."""
    async with engine.begin() as conn:
        return await _issue(conn, PREFIX, name, str(role), clock.now())


async def _issue(conn: AsyncConnection, prefix: str, name: str, role: str, now: datetime) -> str:
    """A new secret (a token or a login link's code) whose hash alone is stored."""
    secret = prefix + secrets.token_urlsafe(32)
    await conn.execute(
        insert(ApiTokenRow).values(name=name, role=role, token_hash=digest(secret), created_at=now)
    )
    return secret


async def authenticate(engine: AsyncEngine, clock: Clock, token: str) -> Principal:
    if token.startswith(LINK_PREFIX):
        # A link may sit in a browser's history; it signs a browser in once and is no API token.
        raise AuthError("a login link is not an API token; open it in a browser to sign in")
    async with engine.begin() as conn:
        row = (await conn.execute(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest(token)))).first()
        if row is None or row.revoked_at is not None:
            raise AuthError("unknown or revoked token; create one with `vigil token create`")
        now = clock.now()
        # Once a minute is enough to tell a token in use; a write per read would serialise
        # every dashboard poll and API read on SQLite's one writer.
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            await conn.execute(update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=now))
        return Principal(row.name, Role(row.role))


async def revoke_token(engine: AsyncEngine, clock: Clock, name: str) -> int:
    async with engine.begin() as conn:
        outcome = await conn.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=clock.now())
        )
    return int(outcome.rowcount or 0)


async def create_login_link(engine: AsyncEngine, clock: Clock, name: str, role: Role) -> str:
    """A one-time code for ``/login/link?code=…``: it signs one browser in within ``LINK_AGE``.

    Only the code's hash is kept, like a token's; redeeming it revokes it and makes the browser
    a token of its own, so the link left in the browser's history is worth nothing.
    """
    async with engine.begin() as conn:
        return await _issue(conn, LINK_PREFIX, name, str(role), clock.now())


async def redeem_login_link(engine: AsyncEngine, clock: Clock, code: str) -> tuple[Principal, str]:
    """The principal a login link stands for and a new token for the browser; the link is spent."""
    refused = AuthError("this login link is unknown, used or expired; sign in with a token instead")
    if not code.startswith(LINK_PREFIX):
        raise refused
    now = clock.now()
    async with engine.begin() as conn:
        row = (await conn.execute(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest(code)))).first()
        if row is None or row.revoked_at is not None or now - row.created_at > LINK_AGE:
            raise refused
        spent = await conn.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.id == row.id, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=now, last_used_at=now)
        )
        if spent.rowcount != 1:
            raise refused  # another browser redeemed it first
        token = await _issue(conn, PREFIX, row.name, row.role, now)
    return Principal(row.name, Role(row.role)), token
