"""What a shell step's text means to the shell, as far as Vigil needs to know it before running:
which ``$VAR``s it expands, which it assigns itself, and which text is only comments.

A small lexer rather than a regular expression, since quoting decides it: ``'$HOME'`` expands
nothing, ``"… '$HOME' …"`` does (single quotes inside double quotes are literal), ``# text``
is a comment only where a word starts, and a ``<<'EOF'`` here-document is literal text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# ${VAR-x} ${VAR:-x} ${VAR=x} ${VAR:=x} ${VAR+x} ${VAR:+x}: the script copes with VAR unset.
_DEFAULTED = re.compile(r"^:?[-=+]")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_ASSIGNED = re.compile(
    r"(?:^|[\s;&|(])(?:(?:export|local|declare|readonly|typeset)\s+(?:-\w+\s+)*)?([A-Za-z_]\w*)\+?="
)
_LOOP_OR_READ = re.compile(r"\b(?:for|select)\s+([A-Za-z_]\w*)\s+in\b|\bread\s+((?:-\w+\s+)*)([\w ]+)")
# Set by bash itself in every script.
SHELL_SET = frozenset(
    {
        *("BASH", "BASHPID", "BASH_SOURCE", "BASH_VERSION", "EUID", "FUNCNAME", "HOSTNAME", "HOSTTYPE"),
        *("IFS", "LINENO", "OLDPWD", "OPTARG", "OPTIND", "OSTYPE", "PIPESTATUS", "PPID", "PWD"),
        *("RANDOM", "REPLY", "SECONDS", "SHELLOPTS", "SHLVL", "UID"),
    }
)


@dataclass(frozen=True)
class Reference:
    """One ``$NAME`` or ``${NAME…}`` the shell will expand, at ``text[start:end]``."""

    name: str
    start: int
    end: int
    default: str | None = None  # ${NAME:-default}: what it becomes when NAME is unset
    required: bool = True  # False when the script copes with NAME unset


@dataclass(frozen=True)
class ShellText:
    references: tuple[Reference, ...]
    assigned: frozenset[str]
    code: str  # the text with comments blanked out (same length, so offsets hold)

    def needed(self) -> list[str]:
        """Names that must be set before the script runs, in order of first use."""
        own = self.assigned | SHELL_SET
        names = [r.name for r in self.references if r.required and r.name not in own]
        return list(dict.fromkeys(names))


def scan(text: str) -> ShellText:
    references: list[Reference] = []
    code = list(text)
    i, n = 0, len(text)
    quote = ""  # "", "'", '"' or "$'"
    heredocs: list[tuple[str, bool]] = []  # (delimiter, literal) waiting for the next line
    while i < n:
        c = text[i]
        if c == "\n" and not quote and heredocs:
            i = _skip_heredocs(text, i + 1, heredocs, references)
            heredocs = []
            continue
        if quote in ("'", "$'"):
            if quote == "$'" and c == "\\":  # $'…' knows escapes, \' among them; '…' does not
                i += 2
                continue
            quote = "" if c == "'" else quote
            i += 1
            continue
        if c == "\\":
            i += 2
            continue
        if c == "$":
            i = _dollar(text, i, references)
            if i < 0:  # $'…': ANSI-C quoting, literal like '…'
                i, quote = -i, "$'"
            continue
        if quote == '"':
            quote = "" if c == '"' else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n;&|("):
            end = text.find("\n", i)
            end = n if end < 0 else end
            code[i:end] = " " * (end - i)
            i = end
            continue
        elif c == "<" and (m := _HEREDOC.match(text, i)):
            heredocs.append((m.group(2), bool(m.group(1))))
            i = m.end()
            continue
        i += 1
    blanked = "".join(code)
    assigned = {m.group(1) for m in _ASSIGNED.finditer(blanked)}
    for m in _LOOP_OR_READ.finditer(blanked):
        assigned.update([m.group(1)] if m.group(1) else m.group(3).split())
    return ShellText(tuple(references), frozenset(assigned), blanked)


def _dollar(text: str, i: int, references: list[Reference]) -> int:
    """Read the expansion at ``text[i] == '$'``; the index after it (negative: a $'…' opened)."""
    after = text[i + 1 : i + 2]
    if after == "'":
        return -(i + 2)
    if after == "{":
        close = text.find("}", i + 2)
        if close < 0:
            return i + 2
        inner = text[i + 2 : close]
        name = _NAME.match(inner.lstrip("#!"))
        if name:
            rest = inner.lstrip("#!")[name.end() :]
            defaulted = bool(_DEFAULTED.match(rest))
            default = rest.split("-", 1)[1] if defaulted and rest.lstrip(":").startswith("-") else None
            references.append(Reference(name.group(0), i, close + 1, default, not defaulted))
        return close + 1
    name = _NAME.match(text, i + 1)
    if name:
        references.append(Reference(name.group(0), i, name.end()))
        return name.end()
    return i + 1  # $1, $?, $$, $(…), $((…)): nothing of ours


def _skip_heredocs(text: str, i: int, pending: list[tuple[str, bool]], refs: list[Reference]) -> int:
    """Past the bodies of the here-documents opened on the line before ``i``; an unquoted one
    expands ``$VAR`` like double quotes do."""
    for delimiter, literal in pending:
        while i < len(text):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            line = text[i:end]
            if line.strip() == delimiter:
                i = end + 1
                break
            j = i
            while not literal and (j := text.find("$", j, end)) >= 0:
                j = max(_dollar(text, j, refs), j + 1)
            i = end + 1
    return i
