"""The runbook's environment variables: the ones its env blocks set (``DATABASE_URL=postgresql://…``)
and the ones its steps read (``psql $DATABASE_URL``), and how the draft refers to them.

An example value is never copied as a secret: the draft says ``${DATABASE_URL:-…}`` with a local
default, so the file validates with the variable unset and takes the real value from the
environment when it is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from vigil.runbooks.importer.document import Document
from vigil.runbooks.model import LANGUAGES, StepKind

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Z][A-Z0-9_]{1,63})=(?P<value>\S*)", re.M)
_USE = re.compile(r"\$\{?(?P<name>[A-Z][A-Z0-9_]{1,63})\b")
_ENV_LANGUAGES = {"", "env", "dotenv", "ini", "text", "properties", *LANGUAGES}
_SECRET = re.compile(r"KEY|SECRET|TOKEN|PASS|PRIVATE|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)
PLACEHOLDER = re.compile(r"<[^>\s]*>|\[[^\]\s]*\]|\bx{3,}\b|YOUR[_-]|CHANGE[_-]?ME|\.\.\.|\{\w+\}", re.I)
# Commands that take a datastore's URL: the variable after them names that datastore.
_TOOLS = re.compile(
    r"\b(?P<tool>psql|pg_dump|pg_restore|pgcli|redis-cli|mysql|mysqldump)\b[^\n|;&]*?\$\{?(?P<name>[A-Z][A-Z0-9_]*)"
)
TOOL_KINDS = {"psql": "postgres", "pg_dump": "postgres", "pg_restore": "postgres", "pgcli": "postgres"}
TOOL_KINDS |= {"redis-cli": "redis", "mysql": "mysql", "mysqldump": "mysql"}


@dataclass(frozen=True)
class Use:
    line: int
    words: str


@dataclass
class Variables:
    examples: dict[str, tuple[str, int]] = field(default_factory=dict)  # name → (value, line)
    used: dict[str, Use] = field(default_factory=dict)  # read by a step that runs: first use
    tools: dict[str, str] = field(default_factory=dict)  # name → datastore kind its command says
    defaults: dict[str, str] = field(default_factory=dict)  # decided by the datastores found

    @classmethod
    def of(cls, document: Document) -> Variables:
        found = cls()
        for fence in document.fences:
            runs = LANGUAGES.get(fence.language, StepKind.SHOWN) is not StepKind.SHOWN
            if fence.language in _ENV_LANGUAGES:
                for match in _ASSIGNMENT.finditer(fence.code):
                    line = fence.line + 1 + fence.code.count("\n", 0, match.start())
                    found.examples.setdefault(match["name"], (match["value"].strip("'\""), line))
            if not runs:
                continue
            for number, row in enumerate(fence.code.splitlines(), start=fence.line + 1):
                for match in _USE.finditer(row):
                    found.used.setdefault(match["name"], Use(number, row.strip()))
                for match in _TOOLS.finditer(row):
                    found.tools.setdefault(match["name"], TOOL_KINDS[match["tool"]])
        return found

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.examples, *self.used]))

    def scheme(self, name: str) -> str:
        example = self.examples.get(name, ("", 0))[0]
        return example.split("://", 1)[0].lower() if "://" in example else ""

    def reference(self, name: str) -> str:
        """``${NAME:-default}``: a default that lets the draft validate and never holds a secret."""
        return "${" + name + ":-" + self.default(name) + "}"

    def default(self, name: str) -> str:
        if name in self.defaults:
            return self.defaults[name]
        if is_secret(name):
            return ""
        example = self.examples.get(name, ("", 0))[0]
        if plain_url(example):
            return example
        return "http://127.0.0.1" if name.endswith(("URL", "URI", "HOST", "ENDPOINT")) else ""


def is_secret(name: str) -> bool:
    return bool(_SECRET.search(name))


def plain_url(text: str) -> bool:
    """An http(s) URL with no password, placeholder or variable in it: safe to write as it is."""
    if not text.startswith(("http://", "https://")) or PLACEHOLDER.search(text) or "$" in text:
        return False
    try:
        parts = urlsplit(text)
        return bool(parts.hostname) and parts.password is None and parts.username is None
    except ValueError:
        return False
