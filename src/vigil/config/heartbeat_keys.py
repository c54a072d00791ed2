"""Two heartbeat checks given the same ping key: the second is a fault at its key's line, naming
the first. A ping could not say which job it came from.

Read from the raw data, like the other whole-file checks of ``config.load``, after ``${VAR}``
is filled (two variables holding one key are the same key). The key itself is never shown: it
is the ping URL's only credential.
"""

from __future__ import annotations

from typing import Any

from vigil.config.source import Source
from vigil.errors import ConfigFault


def heartbeat_key_faults(source: Source) -> list[ConfigFault]:
    data = source.data if isinstance(source.data, dict) else {}
    services = data.get("services")
    first: dict[str, tuple[str, str]] = {}  # key -> the first check's service and name
    faults: list[ConfigFault] = []
    for service, raw in (services if isinstance(services, dict) else {}).items():
        checks = raw.get("checks") if isinstance(raw, dict) else None
        for name, check in (checks if isinstance(checks, dict) else {}).items():
            key = _given_key(check)
            if key is None:
                continue
            path = ("services", service, "checks", name, "heartbeat", "key")
            if key in first:
                # Placed only now: finding a line reads the file again, which a valid file never needs.
                other = first[key]
                line = source.place(("services", *other[:1], "checks", *other[1:], "heartbeat", "key"))[0]
                message = f"has the same ping key as {'.'.join(other)} (line {line}); give each its own key"
                faults.append(source.fault(path, message))
            else:
                first[key] = (service, name)
    return faults


def _given_key(check: Any) -> str | None:
    beat = check.get("heartbeat") if isinstance(check, dict) else None
    key = beat.get("key") if isinstance(beat, dict) else None
    return key if isinstance(key, str) and key else None
