"""Every backup engine, in one place. Adding an engine: a new module here and one line below."""

from __future__ import annotations

from vigil.backups import mariadb, mongodb, postgres, qdrant, redis, sqlite
from vigil.backups.base import EngineKind

ENGINES: dict[str, EngineKind] = {
    kind.name: kind
    for kind in (
        mariadb.KIND,
        mongodb.KIND,
        postgres.KIND,
        qdrant.KIND,
        redis.KIND,
        sqlite.KIND,
    )
}
