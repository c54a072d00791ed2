"""The runbooks a stack file names, read once: sections by address, procedures by name, and
what ``vigil validate`` says about them.

A section is addressed by its file's name and slug (``production.md#issue-502-bad-gateway``);
the path as the stack file's glob found it (``runbooks/production.md#…``) names it too. When two
runbooks share a file name, only their paths name them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import glob
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vigil.config.load import Stack
from vigil.errors import ConfigError, ConfigFault, ProcedureNotFound, RunbookError
from vigil.runbooks.model import Runbook, Section
from vigil.runbooks.parse import read_runbook

MAX_FILES = 1_000


@dataclass
class Library:
    runbooks: list[Runbook] = field(default_factory=list)
    sections: dict[str, Section] = field(default_factory=dict)  # by every address it has
    paths: dict[str, Path] = field(default_factory=dict)  # runbook file name → where it is

    @classmethod
    def of(cls, runbooks: Iterable[Runbook], paths: dict[str, Path] | None = None) -> Library:
        library = cls(paths=dict(paths or {}))
        runbooks = list(runbooks)
        names = [Path(r.file).name for r in runbooks]
        for runbook, name in zip(runbooks, names, strict=True):
            library.runbooks.append(runbook)
            for section in runbook.sections:
                library.sections[section.id] = section
                if names.count(name) == 1 and name != runbook.file:
                    library.sections.setdefault(f"{name}#{section.slug}", section)
        return library

    def all_sections(self) -> Iterator[Section]:
        for runbook in self.runbooks:
            yield from runbook.sections

    def procedures(self) -> list[Section]:
        return [s for r in self.runbooks for s in r.procedures]

    def section(self, address: str) -> Section | None:
        return self.sections.get(address.strip())

    def procedure(self, name: str) -> Section:
        """The procedure named by address, step name or title (closely enough); else
        ``ProcedureNotFound`` listing the closest."""
        wanted = name.strip()
        found = self.section(wanted)
        if found is not None and found.is_procedure:
            return found
        procedures = self.procedures()
        by_title: dict[str, Section] = {}
        for procedure in procedures:
            by_title.setdefault(procedure.title.lower(), procedure)
            by_title.setdefault(procedure.slug, procedure)
        exact = by_title.get(wanted.lower())
        if exact is not None:
            return exact
        # A title that contains the words given is a better match than one merely spelt alike.
        containing = [p for p in procedures if wanted.lower() in p.title.lower()]
        if len(containing) == 1:
            return containing[0]
        close = difflib.get_close_matches(wanted.lower(), list(by_title), n=5, cutoff=0.6)
        matches = containing + [by_title[c] for c in close]
        candidates = list(dict.fromkeys(p.id for p in matches))
        if len(candidates) == 1:
            return matches[0]
        if not candidates:
            candidates = [p.id for p in procedures[:5]]
        hint = "; closest: " + ", ".join(candidates[:5]) if candidates else "; no runbook has a procedure"
        what = "is not a procedure (it has no step to run)" if found is not None else "matches no procedure"
        raise ProcedureNotFound(f"{wanted!r} {what}{hint}")

    def stale(self, today: dt.date, max_age: float) -> list[str]:
        """One line per runbook past its review date or older than ``max_age`` seconds."""
        warnings: list[str] = []
        for runbook in self.runbooks:
            review = runbook.review
            if review.next_review is not None and review.next_review < today:
                warnings.append(f"{runbook.file}:{review.line}: review was due on {review.next_review}")
            elif review.last_updated is not None and (today - review.last_updated).total_seconds() > max_age:
                days = (today - review.last_updated).days
                warnings.append(
                    f"{runbook.file}:{review.line}: last updated {review.last_updated}, {days} days ago; "
                    "review it (runbooks_max_age)"
                )
        return warnings


def load_library(stack: Stack) -> Library:
    """Read every runbook ``stack`` names; ``ConfigError`` lists every file that cannot be used and
    every ``runbook:`` reference that names no section."""
    base = Path(stack.file).parent
    faults: list[ConfigFault] = []
    runbooks: list[Runbook] = []
    paths: dict[str, Path] = {}
    for index, pattern in enumerate(stack.model.runbooks):
        matched = sorted(glob.glob(str(base / pattern), recursive=True)) if glob.has_magic(pattern) else []
        if not glob.has_magic(pattern):
            matched = [str(base / pattern)] if (base / pattern).exists() else []
        if not matched:
            faults.append(ConfigFault(stack.file, 0, 0, f"runbooks.{index}", f"{pattern!r} matches no file"))
        for found in matched:
            name = str(Path(found).relative_to(base)) if Path(found).is_relative_to(base) else found
            if name in paths:
                continue
            if len(paths) >= MAX_FILES:
                faults.append(
                    ConfigFault(stack.file, 0, 0, "runbooks", f"more than {MAX_FILES} runbook files")
                )
                break
            try:
                runbook = read_runbook(Path(found), name)
            except RunbookError as err:
                faults.append(ConfigFault(stack.file, 0, 0, f"runbooks.{index}", str(err)))
                continue
            paths[name] = Path(found)
            runbooks.append(runbook)
            faults += [ConfigFault(stack.file, 0, 0, f"runbooks.{index}", fault) for fault in runbook.faults]
    library = Library.of(runbooks, paths)
    faults += _reference_faults(stack, library)
    if faults:
        raise ConfigError(faults)
    return library


def _reference_faults(stack: Stack, library: Library) -> list[ConfigFault]:
    faults: list[ConfigFault] = []
    references = [(f"services.{s.service}.checks.{s.name}.runbook", s.config.runbook) for s in stack.specs()]
    references += [(f"alerts.{i}.runbook", rule.runbook) for i, rule in enumerate(stack.model.alerts)]
    for path, address in references:
        if not address or "#" not in address or address.startswith(("http://", "https://")):
            continue  # a URL or a plain note is the responder's to follow
        if library.section(address) is None:
            known = [a for a in library.sections if a.split("#")[0] == address.split("#")[0]]
            close = difflib.get_close_matches(address, known or list(library.sections), n=1)
            hint = (
                f"; did you mean {close[0]}?"
                if close
                else ("; list the runbook under runbooks:" if not known else "")
            )
            faults.append(ConfigFault(stack.file, 0, 0, path, f"{address!r} names no runbook section{hint}"))
    return faults
