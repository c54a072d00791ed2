"""API tokens: made once and shown once, stored as a SHA-256 hash, each with a role.

Tokens are 32 random bytes, so a fast hash is enough (there is nothing to brute-force as with
passwords); the lookup is by hash, which also makes the comparison constant-time in effect.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.engine.clock import Clock
from vigil.errors import AuthError, ForbiddenError
from vigil.store.tables import ApiTokenRow

PREFIX = "vgl_"


class Role(StrEnum):
    VIEWER = "viewer"
    RESPONDER = "responder"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


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
    token = PREFIX + secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        await conn.execute(
            insert(ApiTokenRow).values(
                name=name, role=str(role), token_hash=digest(token), created_at=clock.now()
            )
        )
    return token


async def authenticate(engine: AsyncEngine, clock: Clock, token: str) -> Principal:
    async with engine.begin() as conn:
        row = (await conn.execute(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest(token)))).first()
        if row is None or row.revoked_at is not None:
            raise AuthError("unknown or revoked token; create one with `vigil token create`")
        await conn.execute(
            update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=clock.now())
        )
        return Principal(row.name, Role(row.role))


async def revoke_token(engine: AsyncEngine, clock: Clock, name: str) -> int:
    async with engine.begin() as conn:
        outcome = await conn.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=clock.now())
        )
    return int(outcome.rowcount or 0)
