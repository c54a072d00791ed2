"""Reading a stack file: YAML to plain data, and ``${VAR}`` / ``${VAR:-default}`` filled from
the environment; the reading itself, with its bounds, is ``config.bounded_yaml``.

Where each key and value sits (``file:line:col``) is worked out only when a fault must be placed:
the file is composed again with its marks and walked along the faulty paths alone, so a valid
file costs one pass and an invalid one two, each linear in its size.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from vigil.config import bounded_yaml
from vigil.config.secrets import Redactor
from vigil.config.yaml_places import Path, dotted
from vigil.errors import ConfigFault

_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})")


@dataclass
class Source:
    """The parsed file: its data, the secrets found in it, and the faults found while reading."""

    file: str
    data: Any
    text: str = ""
    redactor: Redactor = field(default_factory=Redactor)
    faults: list[ConfigFault] = field(default_factory=list)
    _marks: _Marks | None = field(default=None, repr=False)

    def place(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Where ``path``'s value (or key, with ``key``) starts; else where its nearest parent does."""
        if self._marks is None:
            self._marks = _Marks(self.text)
        return self._marks.place(path, key=key)

    def fault(self, path: Path, message: str, *, key: bool = False) -> ConfigFault:
        line, column = self.place(path, key=key)
        return ConfigFault(self.file, line, column, dotted(path), message)


def read_source(file: str, text: str, environ: Mapping[str, str] | None = None) -> Source:
    """Parse ``text``; raise ``ConfigError`` on broken or unbounded YAML. Duplicate keys and unset
    ``${VAR}`` are collected in ``source.faults`` so that they are reported together with the
    schema's faults."""
    source = Source(file, None, text)
    env = os.environ if environ is None else environ
    loaded = bounded_yaml.load(file, text, what="stack file", on_string=_Interpolator(source, env))
    source.faults[:0] = loaded.faults
    source.data = loaded.data if loaded.data is not None else {}
    return source


class _Marks:
    """Line and column of any path, found by walking the composed file along that path only."""

    def __init__(self, text: str) -> None:
        self.root: yaml.Node | None = None
        with bounded_yaml.gc_paused(), contextlib.suppress(yaml.YAMLError):
            # Safe to compose: the text passed bounded_yaml's bounds (depth, aliases) already. Should
            # PyYAML's composer still refuse what the reader took, faults are placed at 1:1.
            self.root = yaml.compose(text, Loader=bounded_yaml.Loader)
        self.constructor = yaml.SafeLoader("")
        self.index: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}

    def place(self, path: Path, *, key: bool) -> tuple[int, int]:
        node = self.root
        if node is None:
            return (1, 1)
        best, key_node = node, None
        for part in path:
            child = self._child(node, part)
            if child is None:
                break
            key_node, node = child
            best = node
        else:
            if key and key_node is not None:
                return _mark(key_node)
            return _mark(best)
        return _mark(key_node) if key_node is not None else _mark(best)

    def _child(self, node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
        if isinstance(node, yaml.SequenceNode):
            if isinstance(part, int) and 0 <= part < len(node.value):
                return None, node.value[part]
            return None
        if not isinstance(node, yaml.MappingNode):
            return None
        entries = self.index.get(id(node))
        if entries is None:
            entries = self.index[id(node)] = self._entries(node)
        return entries.get(str(part))

    def _entries(self, node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        self.constructor.flatten_mapping(node)  # resolves YAML merge keys (<<: *anchor)
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            try:
                key = self.constructor.construct_object(key_node, deep=True)
            except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError):
                continue
            # The first definition is the one kept when a key is duplicated.
            entries.setdefault(str(key), (key_node, value_node))
        return entries


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Interpolator:
    """Fills ``${VAR}`` in string values; every value taken from the environment becomes a secret."""

    def __init__(self, source: Source, environ: Mapping[str, str]) -> None:
        self.source = source
        self.environ = environ

    def __call__(self, text: str, where: Callable[[], Path], mark: yaml.Mark) -> str:
        from_env: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name = match.group("name")
            if name is None:
                return "$"
            if name in self.environ:
                from_env.append(self.environ[name])
                return self.environ[name]
            default = match.group("default")
            if default is None:
                self.source.faults.append(
                    ConfigFault(
                        self.source.file,
                        mark.line + 1,
                        mark.column + 1,
                        dotted(where()),
                        f"environment variable {name} is not set (set it, or give a default: ${{{name}:-value}})",
                    )
                )
                return ""
            return default

        value = _VAR.sub(substitute, text)
        if from_env:
            # The whole value is secret as well as each piece, so a DSN is masked wherever it appears.
            self.source.redactor.add(value)
            for piece in from_env:
                self.source.redactor.add(piece)
        return value
