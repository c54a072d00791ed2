"""A fence's info string: its language and Runme-style attributes.

Both of Runme's spellings are read: ``bash {name=restart confirm=true timeout=60s}`` and the JSON
form ``sh {"name":"x","excludeFromRunAll":"true"}``. Unknown keys are kept in ``raw`` (Runme has
more than Vigil uses); a value Vigil cannot read is reported, and the attribute ignored.
"""

from __future__ import annotations

import json
import re

from vigil.config.durations import parse_duration
from vigil.runbooks.model import StepAttributes

_PAIR = re.compile(r"""([A-Za-z_][\w.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}]*)""")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
LONGEST_TIMEOUT = 86_400.0


def split_info(info: str) -> tuple[str, str]:
    """``'bash {name=x}'`` → ``('bash', '{name=x}')``; the language is lower-cased."""
    brace = info.find("{")
    head, attrs = (info[:brace], info[brace:]) if brace >= 0 else (info, "")
    words = head.split()
    return (words[0].lower() if words else ""), attrs.strip()


def _raw(text: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        loaded = json.loads(text)
    except ValueError:
        loaded = None
    if isinstance(loaded, dict):
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items()}
    pairs: dict[str, str] = {}
    for key, value in _PAIR.findall(text):
        quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"
        pairs[key] = value[1:-1] if quoted else value
    return pairs


def _flag(raw: dict[str, str], key: str, faults: list[str]) -> bool | None:
    if key not in raw:
        return None
    value = raw[key].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    faults.append(f"{key}={raw[key]!r} is not true or false")
    return None


def parse_attributes(text: str) -> tuple[StepAttributes, list[str]]:
    """The attributes of ``{…}``, and the faults found (each one line, without the place)."""
    raw = _raw(text)
    faults: list[str] = []
    timeout = None
    if "timeout" in raw:
        try:
            timeout = parse_duration(raw["timeout"])
            if not 0 < timeout <= LONGEST_TIMEOUT:
                raise ValueError
        except ValueError:
            faults.append(f"timeout={raw['timeout']!r} is not a duration between 0s and 24h, e.g. 60s")
            timeout = None
    run = _flag(raw, "run", faults)
    attributes = StepAttributes(
        name=raw.get("name") or None,
        confirm=_flag(raw, "confirm", faults),
        timeout=timeout,
        cwd=raw.get("cwd") or None,
        db=raw.get("db") or None,
        run=run is not False,
        exclude_from_run_all=bool(_flag(raw, "excludeFromRunAll", faults)),
        interactive=bool(_flag(raw, "interactive", faults)),
        background=bool(_flag(raw, "background", faults)),
        raw=raw,
    )
    return attributes, faults
