"""Two heartbeat checks (or backup jobs reporting by ping) given the same ping key: the second is a fault at its key's line, naming
the first. A ping could not say which job it came from.

Read from the raw data, like the other whole-file checks of ``config.load``, after ``${VAR}``
is filled (two variables holding one key are the same key). The key itself is never shown: it
is the ping URL's only credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vigil.config.backups import REPORTED
from vigil.config.source import Source
from vigil.config.yaml_places import Path
from vigil.errors import ConfigFault


def heartbeat_key_faults(source: Source) -> list[ConfigFault]:
    first: dict[str, tuple[str, Path]] = {}  # key -> the first check's id and the key's path
    faults: list[ConfigFault] = []
    for check_id, path, key in _given_keys(source.data if isinstance(source.data, dict) else {}):
        if key in first:
            # Placed only now: finding a line reads the file again, which a valid file never needs.
            other, where = first[key]
            line = source.place(where)[0]
            message = f"has the same ping key as {other} (line {line}); give each its own key"
            faults.append(source.fault(path, message))
        else:
            first[key] = (check_id, path)
    return faults


def _given_keys(data: dict[str, Any]) -> Iterator[tuple[str, Path, str]]:
    """Each key the file gives: the heartbeat checks', then the reported backup jobs' (``backups.<job>``)."""
    services = data.get("services")
    for service, raw in (services if isinstance(services, dict) else {}).items():
        checks = raw.get("checks") if isinstance(raw, dict) else None
        for name, check in (checks if isinstance(checks, dict) else {}).items():
            beat = check.get("heartbeat") if isinstance(check, dict) else None
            if (key := _key(beat)) is not None:
                yield f"{service}.{name}", ("services", service, "checks", name, "heartbeat", "key"), key
    backups = data.get("backups")
    for name, job in (backups if isinstance(backups, dict) else {}).items():
        if isinstance(job, dict) and job.get("engine") == REPORTED and (key := _key(job)) is not None:
            yield f"backups.{name}", ("backups", name, "key"), key


def _key(holder: Any) -> str | None:
    key = holder.get("key") if isinstance(holder, dict) else None
    return key if isinstance(key, str) and key else None
