"""Every backup engine, in one place. Adding an engine: a new module here and its name below.

Only the names are known up front: an engine's module, and the driver it brings in (pymongo for
``mongodb``), loads when a job of that engine is run, so that reading a stack file (``vigil
validate``, every command) costs nothing for engines it does not use.
"""

from __future__ import annotations

import importlib

from vigil.backups.base import EngineKind

ENGINES = ("mariadb", "mongodb", "postgres", "qdrant", "redis", "sqlite")  # each vigil.backups.<name>


def engine_kind(name: str) -> EngineKind:
    """The engine ``name`` (one of ``ENGINES``), its module loaded on first use."""
    if name not in ENGINES:
        raise KeyError(name)
    kind: EngineKind = importlib.import_module(f"vigil.backups.{name}").KIND
    return kind
