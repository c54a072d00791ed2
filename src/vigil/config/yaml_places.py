"""Where things sit in a YAML file, as a fault names them: the path of a node
(``services.api.checks[0]``), a name quoted when it would not read as one word, and a fault
placed at a parser's mark (``file:line:col``).
"""

from __future__ import annotations

import yaml

from vigil.errors import ConfigFault

Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    """``services.api.checks[0]``; a key that would not read as one word is quoted: ``services['a b']``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif shown(part) == part:
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def shown(name: str) -> str:
    """A name as a message shows it: as it is when it reads as one word, else quoted (one line)."""
    plain = name and name.isprintable() and not any(c.isspace() or c in ".[]'\"," for c in name)
    return name if plain else repr(name)


def fault_at(file: str, mark: yaml.Mark | None, message: str, path: str = "") -> ConfigFault:
    """A fault at a parser's mark (0-based) as ``file:line:col`` (1-based); line 1 when there is none."""
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return ConfigFault(file, line, column, path, message)


def one_line(text: str) -> str:
    """A parser's message (which may span lines, with a caret drawing) as one line."""
    return " ".join(text.split())
