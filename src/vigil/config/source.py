"""Reading a stack file: YAML to plain data, remembering where every key and value sits,
and filling ``${VAR}`` / ``${VAR:-default}`` from the environment.

PyYAML's node tree carries line and column marks that its plain loader throws away; the
walk here keeps them so that every validation error can be placed at ``file:line:col``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from vigil.config.secrets import Redactor
from vigil.errors import ConfigError, ConfigFault

Path = tuple[str | int, ...]
_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})")


@dataclass
class Source:
    """The parsed file: data, where each path's key and value start (1-based), secrets found."""

    file: str
    data: Any
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)
    faults: list[ConfigFault] = field(default_factory=list)

    def place(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Where ``path``'s value (or key, with ``key``) starts; else where its nearest parent does."""
        if key and path in self.keys:
            return self.keys[path]
        if path in self.values:
            return self.values[path]
        for end in range(len(path) - 1, -1, -1):
            prefix = path[:end]
            if prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)

    def fault(self, path: Path, message: str, *, key: bool = False) -> ConfigFault:
        line, column = self.place(path, key=key)
        return ConfigFault(self.file, line, column, dotted(path), message)


def dotted(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


def read_source(file: str, text: str, environ: Mapping[str, str] | None = None) -> Source:
    """Parse ``text``; raise ``ConfigError`` on broken YAML. Duplicate keys and unset ``${VAR}`` are
    collected in ``source.faults`` so that they are reported together with the schema's faults."""
    source = Source(file, None)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = err.problem or str(err)
        raise ConfigError([ConfigFault(file, line, col, "", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as err:
        raise ConfigError([ConfigFault(file, 1, 1, "", f"invalid YAML: {err}")]) from None
    walker = _Walker(source, os.environ if environ is None else environ, source.faults)
    source.data = walker.build(root, ()) if root is not None else {}
    return source


class _Walker:
    def __init__(self, source: Source, environ: Mapping[str, str], faults: list[ConfigFault]) -> None:
        self.source = source
        self.environ = environ
        self.faults = faults
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.source.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "$" in value and node.tag == "tag:yaml.org,2002:str":
            return self._interpolate(value, path, node)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        self.constructor.flatten_mapping(node)  # resolves YAML merge keys (<<: *anchor)
        for key_node, value_node in node.value:
            key = self.constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                self._fault(key_node, path, "keys must be plain strings")
                continue
            key = str(key) if not isinstance(key, str) else key
            child = (*path, key)
            if key in out:
                self._fault(
                    key_node,
                    child,
                    f"duplicate key {key!r} (first defined on line {self.source.keys[child][0]})",
                )
                continue
            self.source.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child)
        return out

    def _interpolate(self, text: str, path: Path, node: yaml.Node) -> str:
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
                self._fault(
                    node,
                    path,
                    f"environment variable {name} is not set (set it, or give a default: ${{{name}:-value}})",
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

    def _fault(self, node: yaml.Node, path: Path, message: str) -> None:
        mark = node.start_mark
        self.faults.append(
            ConfigFault(self.source.file, mark.line + 1, mark.column + 1, dotted(path), message)
        )
