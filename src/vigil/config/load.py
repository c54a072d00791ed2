"""Loading a stack file into a validated ``Stack``, or a ``ConfigError`` naming every fault.

Pydantic finds what is wrong; this module says where (``file:line:col``), in the user's words
(``unknown key 'sttus'; did you mean 'status'?``), and adds the checks that span the whole
file (dependencies on services that do not exist, dependency cycles).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import graphlib
import hashlib
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path as FsPath
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Discriminator, Tag, ValidationError

from vigil.config.backups import BACKUP_TAGS
from vigil.config.bounded_yaml import gc_paused, size_fault
from vigil.config.check import CheckBase
from vigil.config.heartbeat_keys import heartbeat_key_faults
from vigil.config.maintenance import ITEM_TAGS
from vigil.config.oncall_refs import oncall_faults
from vigil.config.rule_faults import rule_faults
from vigil.config.secrets import Redactor
from vigil.config.severity_faults import severity_faults
from vigil.config.source import Source, read_source
from vigil.config.stack import CheckSpec, Service, StackFile
from vigil.config.yaml_places import Path, dotted, shown
from vigil.errors import ConfigError, ConfigFault
from vigil.probes.registry import KINDS


@dataclass(frozen=True)
class Stack:
    """A stack file that passed validation, with the redactor that knows its secrets."""

    file: str
    model: StackFile
    redactor: Redactor

    def specs(self) -> list[CheckSpec]:
        return list(self.model.checks(self.folder))

    @property
    def folder(self) -> FsPath:
        """Where the stack file's relative paths start (backup destinations and file sources):
        its folder, whatever the current directory."""
        return FsPath(self.file).resolve().parent if self.file else FsPath.cwd()

    @property
    def identity(self) -> str:
        """Which stack this is, in a store several stack files share (two teams on one
        PostgreSQL, a staging and a production file side by side): its incidents carry it, and
        what ``vigil up`` does on its own at start touches only incidents that carry it.

        The file's ``name:`` when it has one: it stays when the file moves, and instances that
        run one stack from different paths agree on it. Otherwise ``file:`` and a digest of the
        file's absolute path: stable across edits and restarts (content would not be), distinct
        for two files in one folder (the folder's name would not be), and not resolved through
        symlinks, so a deploy that repoints ``current/`` keeps it. Moving the file makes it
        another stack; ``name:`` is how to move one."""
        if self.model.name:
            return self.model.name
        digest = hashlib.sha256(os.path.abspath(self.file).encode()).hexdigest()[:16]
        return f"file:{digest}"


def load_stack(file: str | FsPath, environ: Mapping[str, str] | None = None) -> Stack:
    name = str(file)
    try:
        too_big = size_fault(name, FsPath(file).stat().st_size, "stack file")
        if too_big:
            raise ConfigError([too_big])
        text = FsPath(file).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            [ConfigFault(name, 0, 0, "", f"cannot read the stack file: {err.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigFault(name, 0, 0, "", "the stack file is not UTF-8 text")]) from None
    return parse_stack(name, text, environ)


def parse_stack(name: str, text: str, environ: Mapping[str, str] | None = None) -> Stack:
    with gc_paused():
        return _parse(name, text, environ)


def _parse(name: str, text: str, environ: Mapping[str, str] | None) -> Stack:
    source = read_source(name, text, environ)
    if not isinstance(source.data, dict):
        raise ConfigError([source.fault((), "the stack file must be a mapping with a services: key")])
    faults = list(source.faults)
    severities = severity_faults(source)
    whole_file = _graph_faults(source) + rule_faults(source) + oncall_faults(source) + severities
    whole_file += heartbeat_key_faults(source)
    try:
        _validate_services(source.data)
        model = StackFile.model_validate(source.data)
    except ValidationError as err:
        # A value already reported (an unset ${VAR}) is not reported again as invalid.
        known = {fault.path for fault in faults}
        # The model's own severity check is reported above, placed at its line.
        errors = [
            e for e in err.errors(include_url=False) if not (severities and e["type"] == "unknown_severity")
        ]
        faults += [f for e in errors if (f := _fault(source, e)).path not in known]
        raise _error(source, faults + whole_file) from None
    faults += whole_file
    if faults:
        raise _error(source, faults)
    return Stack(name, model, source.redactor)


def _validate_services(data: dict[str, Any]) -> None:
    """Turn each valid service's raw data into its model, in place, one at a time: the raw mapping
    is freed as its model is made, so a large file never holds both whole (at 40,000 services that
    is most of the peak memory). An invalid service stays raw, for ``StackFile`` to report at its
    full path; the models are taken as they are. Run after every check that reads the raw data."""
    services = data.get("services")
    if not isinstance(services, dict):
        return
    for name, raw in services.items():
        if isinstance(raw, dict):
            with contextlib.suppress(ValidationError):
                services[name] = Service.model_validate(raw)


def _error(source: Source, faults: list[ConfigFault]) -> ConfigError:
    """Every fault's message masked: a name quoted back (``unknown service …``) may come from ``${VAR}``."""
    return ConfigError([replace(f, message=source.redactor(f.message)) for f in faults])


def _fault(source: Source, error: Any) -> ConfigFault:
    loc = _strip_tags(tuple(error["loc"]))
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        unknown = str(loc[-1])
        message = f"unknown key {unknown!r}"
        close = difflib.get_close_matches(unknown, _allowed_keys(source, loc[:-1]), n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
        return source.fault(loc, message, key=True)
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        return source.fault(loc, f"name {loc[-1]!r} may use only letters, digits, '-' and '_'", key=True)
    if kind == "missing":
        return source.fault(loc, f"missing required key {loc[-1]!r}")
    if kind == "check_kind":
        return _kind_fault(source, loc, message)
    return source.fault(loc, source.redactor(message.replace("Input should be", "must be")))


def _kind_fault(source: Source, loc: Path, message: str) -> ConfigFault:
    """A check without exactly one probe key: two named, or a key that is no field of any kind
    named as the unknown probe kind it must be meant as, at its own line."""
    data = _data_at(source.data, loc)
    keys = [str(key) for key in data] if isinstance(data, dict) else []
    present = [key for key in keys if key in KINDS]
    if len(present) > 1:
        return source.fault(
            loc, f"a check has one probe key, found {len(present)}: {', '.join(present)}", key=True
        )
    # `every` or `query` without their probe key is a missing kind, not an unknown one.
    unknown = [key for key in keys if key not in _kind_fields()]
    if not unknown:
        return source.fault(loc, message, key=True)
    key = unknown[0]
    message = f"unknown probe kind {key!r}; known: {', '.join(sorted(KINDS))}"
    close = difflib.get_close_matches(key, list(KINDS), n=1, cutoff=0.6)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return source.fault((*loc, key), message, key=True)


@functools.cache
def _kind_fields() -> frozenset[str]:
    """Every key some check may have: the shared fields and each kind's own."""
    return frozenset(name for kind in KINDS.values() for name in _keys(kind.config)) | frozenset(
        _keys(CheckBase)
    )


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _strip_tags(loc: Path) -> Path:
    # Pydantic puts a tagged union's tag after the name of the check, backup job or checklist
    # item; it is not a key in the file.
    return tuple(p for i, p in enumerate(loc) if not (i >= 2 and _is_tag(loc[i - 2], loc[i - 1], p)))


def _is_tag(grand: object, parent: object, part: object) -> bool:
    if grand == "checks":
        return part in KINDS
    if grand == "backups":
        return part in BACKUP_TAGS
    return grand == "items" and isinstance(parent, int) and part in ITEM_TAGS


def _data_at(data: Any, loc: Path) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _allowed_keys(source: Source, loc: Path) -> list[str]:
    """Keys valid at ``loc``, found by walking the models' annotations alongside the data."""
    annotation: Any = StackFile
    for depth in range(len(loc) + 1):
        annotation = _unwrap(annotation, source.data, loc[:depth])
        if depth == len(loc):
            break
        part = loc[depth]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {f.alias or n: f for n, f in annotation.model_fields.items()}
            if part not in fields:
                return []
            annotation = fields[str(part)].annotation
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
        else:
            return []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any, data: Any, loc: Path) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            base, *extras = get_args(annotation)
            chooser = next((extra for extra in extras if isinstance(extra, Discriminator)), None)
            if chooser is not None:
                return _tagged(base, chooser, _data_at(data, loc))
            annotation = base
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else options[0]
        else:
            return annotation


def _tagged(union: Any, chooser: Discriminator, data: Any) -> Any:
    """The member of a tagged union (checks, backup jobs) that ``data`` is read as."""
    pick = chooser.discriminator
    tag = pick(data) if callable(pick) else None
    for option in get_args(union):
        model, *marks = get_args(option)
        if any(isinstance(mark, Tag) and mark.tag == tag for mark in marks):
            return model
    return None


def _graph_faults(source: Source) -> list[ConfigFault]:
    """Dependencies on unknown services and cycles; read from the raw data so that they are
    reported even when other parts of the file are invalid."""
    raw = source.data.get("services") if isinstance(source.data, dict) else None
    services: dict[str, Any] = raw if isinstance(raw, dict) else {}
    graph: dict[str, list[str]] = {}
    faults: list[ConfigFault] = []
    hints = _Hints(list(services))
    for name, service in services.items():
        deps = service.get("depends_on") if isinstance(service, dict) else None
        graph[name] = []
        for i, dep in enumerate(deps if isinstance(deps, list) else []):
            if not isinstance(dep, str):
                continue
            path = ("services", name, "depends_on", i)
            if dep == name:
                faults.append(source.fault(path, f"service {name!r} cannot depend on itself"))
            elif dep not in services:
                faults.append(source.fault(path, f"unknown service {dep!r}{hints(dep)}"))
            else:
                graph[name].append(dep)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as err:
        # graphlib gives the cycle from a node back to itself, each service depending on the next.
        cycle = list(reversed(err.args[1]))
        faults.append(
            source.fault(("services", cycle[0], "depends_on"), f"dependency cycle: {' -> '.join(cycle)}")
        )
    return faults


class _Hints:
    """Did-you-mean for unknown service names. Each lookup compares with every service, so past
    a few the hints stop: a file with thousands of wrong names stays linear to check."""

    LIMIT = 20

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.given = 0

    def __call__(self, unknown: str) -> str:
        self.given += 1
        if self.given <= self.LIMIT:
            close = difflib.get_close_matches(unknown, self.names, n=1)
            if close:
                return f"; did you mean {close[0]!r}?"
        if len(self.names) <= 10:
            return f"; services are: {', '.join(map(shown, self.names))}"
        return ""


__all__ = ["Stack", "dotted", "load_stack", "parse_stack"]
