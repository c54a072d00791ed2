"""YAML to plain data with bounds: every YAML file Vigil reads (stack files, rule files) goes here.

A 400-byte file of nested ``*alias`` lists stands for billions of nodes, a deep flow list
overflows any recursive composer, and a huge file takes minutes; each is refused with one line
before it costs anything. Aliases are counted, not expanded: the number of nodes each alias
stands for is summed over the document, and the alias that takes the sum past the bound is named
at its line. Anchors and merge keys (``<<: *defaults``) otherwise work as YAML says.

The data is built straight from libyaml's event stream (PyYAML's C parser where it is built in),
without a node tree and without recursion, so loading is linear in the file's size; line numbers
for faults found later are recomputed only when there is a fault (see ``config.source``); how a
fault names its place is ``config.yaml_places``.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from vigil.config.yaml_places import Path, dotted, fault_at, one_line
from vigil.errors import ConfigError, ConfigFault

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
# About the node count of a 10 MB file: aliases may at most double the work of the largest file.
MAX_ALIAS_NODES = 1_000_000

# Called for each string scalar containing "$": (value, where it sits, its mark) -> the value to keep.
OnString = Callable[[str, Callable[[], Path], yaml.Mark], str]

Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_CONSTRUCTORS = yaml.SafeLoader.yaml_constructors
_IMPLICIT: dict[str, list[tuple[str, Any]]] = yaml.SafeLoader.yaml_implicit_resolvers
_MISSING = object()


@dataclass
class Loaded:
    """The document as plain data (``None`` when empty) and the faults that did not stop reading."""

    data: Any
    faults: list[ConfigFault] = field(default_factory=list)


class _Frame:
    """An open mapping or sequence: what it holds so far and what it costs once expanded."""

    __slots__ = (
        "anchor",
        "height",
        "key",
        "lines",
        "merges",
        "pending",
        "pending_mark",
        "size",
        "start",
        "value",
    )

    def __init__(self, value: Any, key: Any, anchor: str | None, start: yaml.Mark) -> None:
        self.value = value
        self.key = key  # where this node sits in its parent (for fault paths)
        self.anchor = anchor
        self.start = start
        self.pending: Any = _MISSING  # in a mapping: the key read, waiting for its value
        self.pending_mark: yaml.Mark | None = None
        self.merges: list[tuple[Any, yaml.Mark]] | None = None
        self.lines: dict[str, int] = {}  # explicit keys' lines, to name a duplicate's first one
        self.size = 1  # nodes this one stands for, aliases expanded
        self.height = 1  # levels this one spans, aliases expanded


def size_fault(file: str, size: int, what: str) -> ConfigFault | None:
    """The fault for a file of ``size`` bytes when it is over the bound."""
    if size <= MAX_BYTES:
        return None
    return ConfigFault(
        file, 0, 0, "", f"the {what} is {size / 1e6:.1f} MB; files over {MAX_BYTES // 2**20} MB are refused"
    )


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Building a large tree allocates millions of objects and no cycles; the cyclic collector
    would rescan the growing heap again and again (a 5x slowdown at 40,000 services)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load(file: str, text: str, *, what: str = "file", on_string: OnString | None = None) -> Loaded:
    """Parse one YAML document within the bounds, or raise ``ConfigError`` with one fault."""
    size = len(text) if len(text) * 4 <= MAX_BYTES else len(text.encode("utf-8", "surrogatepass"))
    too_big = size_fault(file, size, what)
    if too_big:
        raise ConfigError([too_big])
    builder = _Builder(file, on_string)
    try:
        with gc_paused():
            return builder.run(Loader(text))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = f"invalid YAML: {one_line(str(err.problem or err))}"
        if err.problem == "exceeded maximum nesting depth":  # libyaml's own bound, met in flow style
            problem = f"nested more than {MAX_DEPTH} levels deep; YAML nesting is bounded"
        raise ConfigError([fault_at(file, mark, problem)]) from None
    except yaml.reader.ReaderError as err:
        # libyaml gives a byte offset and a code point; the offset is near enough to place the line.
        line = text.count("\n", 0, err.position) + 1
        column = err.position - text.rfind("\n", 0, err.position)
        code = err.character if isinstance(err.character, int) else ord(err.character[:1] or "\0")
        fault = ConfigFault(file, line, column, "", f"invalid YAML: {err.reason} (#x{code:04x})")
        raise ConfigError([fault]) from None
    except yaml.YAMLError as err:
        raise ConfigError([ConfigFault(file, 1, 1, "", f"invalid YAML: {one_line(str(err))}")]) from None
    except UnicodeError:
        raise ConfigError(
            [ConfigFault(file, 1, 1, "", "invalid YAML: the text is not valid Unicode")]
        ) from None


class _Builder:
    def __init__(self, file: str, on_string: OnString | None) -> None:
        self.file = file
        self.on_string = on_string
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, size, height)
        self.open_anchors: set[str] = set()
        self.anchor_lines: dict[str, int] = {}
        self.anchor_count = 0
        self.alias_nodes = 0
        self.faults: list[ConfigFault] = []
        self.documents = 0
        self.root: Any = None

    def _refuse(self, mark: yaml.Mark | None, message: str) -> ConfigError:
        """The error that stops reading, at ``mark``."""
        return ConfigError([fault_at(self.file, mark, message)])

    def run(self, parser: Any) -> Loaded:
        get = parser.get_event
        while True:
            event = get()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if event.anchor is not None:
                    self._define(event.anchor, event.start_mark)
                self._add(self._scalar(parser, event), event.start_mark, event.anchor, 1, 0)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                self._open(event, {} if kind is yaml.MappingStartEvent else [])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = self.stack.pop()
                value = self._merged(frame) if frame.merges else frame.value
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                self._add(value, frame.start, frame.anchor, frame.size, frame.height)
            elif kind is yaml.AliasEvent:
                self._alias(event)
            elif kind is yaml.DocumentStartEvent:
                self.documents += 1
                if self.documents > 1:
                    raise self._refuse(event.start_mark, "invalid YAML: expected a single document")
            elif kind is yaml.StreamEndEvent:
                return Loaded(self.root, self.faults)

    def _open(self, event: Any, value: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise self._refuse(
                event.start_mark, f"nested more than {MAX_DEPTH} levels deep; YAML nesting is bounded"
            )
        parent = self.stack[-1] if self.stack else None
        key: Any = None
        if parent is not None:
            key = _key_name(parent.pending) if isinstance(parent.value, dict) else len(parent.value)
        if event.anchor is not None:
            self._define(event.anchor, event.start_mark)
            self.open_anchors.add(event.anchor)
        self.stack.append(_Frame(value, key, event.anchor, event.start_mark))

    def _define(self, anchor: str, mark: yaml.Mark) -> None:
        first = self.anchor_lines.setdefault(anchor, mark.line + 1)
        if len(self.anchor_lines) == self.anchor_count:
            raise self._refuse(
                mark, f"invalid YAML: anchor &{anchor} is defined twice (first on line {first})"
            )
        self.anchor_count += 1

    def _alias(self, event: Any) -> None:
        name = event.anchor
        if name not in self.anchors:
            problem = (
                f"alias *{name} is inside the node it names; recursive YAML is not allowed"
                if name in self.open_anchors
                else f"alias *{name} has no anchor &{name} before it"
            )
            raise self._refuse(event.start_mark, problem)
        value, size, height = self.anchors[name]
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise self._refuse(
                event.start_mark,
                f"alias *{name} expands to more than {MAX_ALIAS_NODES:,} nodes in all; "
                "YAML aliases are bounded",
            )
        if len(self.stack) + height > MAX_DEPTH:
            raise self._refuse(
                event.start_mark,
                f"alias *{name} nests more than {MAX_DEPTH} levels deep; YAML nesting is bounded",
            )
        self._add(value, event.start_mark, None, size, height)

    def _add(self, value: Any, mark: yaml.Mark, anchor: str | None, size: int, height: int) -> None:
        """Put a finished node into the open collection (or make it the document)."""
        if anchor is not None:
            self.anchors[anchor] = (value, size, height)
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += size
        if height >= frame.height:
            frame.height = height + 1
        target = frame.value
        if type(target) is list:
            target.append(value)
            return
        if frame.pending is _MISSING:
            frame.pending, frame.pending_mark = value, mark
            return
        key, key_mark = frame.pending, frame.pending_mark
        frame.pending = _MISSING
        if key is _MERGE_KEY:
            frame.merges = [*(frame.merges or []), (value, mark)]
        elif type(key) is not str and (not isinstance(key, int | float) or key is None):
            self.faults.append(fault_at(self.file, key_mark, "keys must be plain strings", self._path()))
        else:
            # Keys repeat in every service (checks, every, http…): one string each, not one per use.
            key = sys.intern(key if type(key) is str else str(key))
            if key in frame.lines:
                where = dotted((*self._path_of(len(self.stack)), key))
                self.faults.append(
                    fault_at(
                        self.file,
                        key_mark,
                        f"duplicate key {key!r} (first defined on line {frame.lines[key]})",
                        where,
                    )
                )
            else:
                frame.lines[key] = key_mark.line + 1 if key_mark else 0
                target[key] = value

    def _merged(self, frame: _Frame) -> dict[Any, Any]:
        """YAML merge keys: the merged mappings' keys first, earlier ones winning, then explicit keys."""
        out: dict[Any, Any] = {}
        for value, mark in frame.merges or []:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    raise self._refuse(
                        mark, "invalid YAML: a merge key << takes a mapping or a list of mappings"
                    )
                for key, item in source.items():
                    out.setdefault(key, item)
        out.update(frame.value)
        return out

    def _scalar(self, parser: Any, event: Any) -> Any:
        tag = event.tag
        value: str = event.value
        if tag is None or tag == "!":
            # PyYAML's Resolver.resolve, inlined: it runs for every scalar of the file.
            tag = _STR
            if event.implicit[0]:
                for candidate, pattern in _IMPLICIT.get(value[:1], ()):
                    if pattern.match(value):
                        tag = candidate
                        break
        if tag == _STR:
            # Values only: a key is a name, never filled from the environment.
            if self.on_string is not None and "$" in value and not self._at_key():
                return self.on_string(
                    value, lambda: self._path_of(len(self.stack), pending=True), event.start_mark
                )
            return value
        if (
            tag == _MERGE
            and self.stack
            and type(self.stack[-1].value) is dict
            and self.stack[-1].pending is _MISSING
        ):
            return _MERGE_KEY
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        construct = _CONSTRUCTORS.get(tag) or _CONSTRUCTORS[None]
        try:
            value = construct(_CONSTRUCTOR, node)
        except Exception:
            # PyYAML's scalar constructors fail in many ways on hostile text (an implicit timestamp
            # such as 2024-13-45 matches the pattern but is no date; ``!!int ''`` indexes past the end).
            raise self._refuse(
                event.start_mark, f"invalid YAML: {event.value!r} is not a valid {tag.rsplit(':', 1)[-1]}"
            ) from None
        if isinstance(value, types.GeneratorType):
            raise self._refuse(event.start_mark, f"invalid YAML: the tag {tag} does not apply to a scalar")
        return value

    def _at_key(self) -> bool:
        frame = self.stack[-1] if self.stack else None
        return frame is not None and type(frame.value) is dict and frame.pending is _MISSING

    def _path(self) -> str:
        return dotted(self._path_of(len(self.stack)))

    def _path_of(self, depth: int, *, pending: bool = False) -> Path:
        """The path of the node being read inside the ``depth`` open collections."""
        path: list[str | int] = [f.key for f in self.stack[1:depth]]
        if pending and self.stack:
            frame = self.stack[-1]
            if isinstance(frame.value, list):
                path.append(len(frame.value))
            elif frame.pending is not _MISSING:
                path.append(_key_name(frame.pending))
        return tuple(path)


class _MergeKey:
    """Stands for ``<<`` while its value is read."""

    def __str__(self) -> str:
        return "<<"


def _key_name(key: Any) -> str:
    return key if type(key) is str else str(key)


_MERGE_KEY = _MergeKey()
_CONSTRUCTOR = yaml.SafeLoader("")


__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "Loaded",
    "OnString",
    "gc_paused",
    "load",
    "size_fault",
]
