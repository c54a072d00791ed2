"""Backup jobs from the commands a runbook backs up with: ``pg_dump``, ``mysqldump`` /
``mariadb-dump``, ``sqlite3 … .backup``, ``redis-cli BGSAVE``, ``mongodump``, a Qdrant snapshot.

Each becomes a job Vigil takes (``engine: postgres`` …). The schedule, retention, verification and objectives
come from the words around the command first (its crontab line, its section), then from what
the runbook says about backups anywhere (``backup_terms``). The source is the environment
variable the command reads, as ``${DATABASE_URL:-a local server}``: never the runbook's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from vigil.runbooks.importer import backup_terms as terms
from vigil.runbooks.importer.datastores import TECHNOLOGIES
from vigil.runbooks.importer.document import Document, Place
from vigil.runbooks.importer.model import BackupDraft, StackDraft, words

MAX_JOBS = 20
_ABOUT = ("backup", "back up", "snapshot", "dump", "disaster recovery", "restor", "retention", "rpo", "rto")
_VARIABLE = re.compile(r"\$\{?(?P<name>[A-Z][A-Z0-9_]{1,63})\b")
_SQLITE_FILE = re.compile(r"\bsqlite3\s+(?P<file>[^\s'\"-][^\s'\"]*)")


@dataclass(frozen=True)
class Dumper:
    engine: str  # the job's engine (vigil.backups.registry)
    tech: str  # the datastore (importer.datastores) whose URL it reads; "" for a file
    title: str
    command: re.Pattern[str]


DUMPERS = (
    Dumper("postgres", "postgres", "PostgreSQL", re.compile(r"\bpg_dump\b")),
    Dumper("mariadb", "mysql", "MariaDB", re.compile(r"\b(?:mysqldump|mariadb-dump)\b")),
    Dumper("sqlite", "", "SQLite", re.compile(r"\bsqlite3\b[^\n]*\.backup\b")),
    Dumper("redis", "redis", "Redis", re.compile(r"\bBGSAVE\b|\bredis-cli\b[^\n]*--rdb\b", re.I)),
    Dumper("mongodb", "mongodb", "MongoDB", re.compile(r"\bmongodump\b")),
    Dumper("qdrant", "qdrant", "Qdrant", re.compile(r"/collections/(?P<collection>[^\s/\"']+)/snapshots", re.I)),
)  # fmt: skip
Said = tuple[int, str]  # a runbook line and its words
T = TypeVar("T")


def find(document: Document, draft: StackDraft) -> None:
    scope = _rows((line, text) for line, text, _ in _backup_words(document))
    everywhere = _rows(sorted((line, text) for line, text, _ in document.words()))
    for fence in document.fences:
        for dumper in DUMPERS:
            match = dumper.command.search(fence.code)
            if match is None:
                continue
            name = dumper.tech or dumper.engine
            line = fence.line + 1 + fence.code.count("\n", 0, match.start())
            if name in draft.backups:
                draft.backups[name].lines.add(line)  # said again: the first is the job
                continue
            if len(draft.backups) >= MAX_JOBS:
                return
            row = fence.code.splitlines()[line - fence.line - 1]
            near = [(line, row), *_rows(_section(document, fence.place))]
            draft.backups[name] = _job(name, dumper, line, row, draft, near + scope, everywhere)


def _backup_words(document: Document) -> Iterator[tuple[int, str, Place]]:
    """Prose and code about backups: under a heading that says so, or saying so itself."""
    for line, text, place in document.words():
        if _about(place) or any(word in text.lower() for word in _ABOUT):
            yield line, text, place
    for fence in document.fences:
        if _about(fence.place):
            yield fence.line + 1, fence.code, fence.place


def _about(place: Place) -> bool:
    return any(word in " ".join((*place.headings[-2:], place.lead)).lower() for word in _ABOUT)


def _section(document: Document, place: Place) -> list[Said]:
    if place.section is None:
        return []
    same = [(line, text) for line, text, p in document.words() if p.section is place.section]
    return same + [(f.line + 1, f.code) for f in document.fences if f.place.section is place.section]


def _rows(said: Iterable[Said]) -> list[Said]:
    """Each line of each text on its own, with its line in the runbook."""
    return [(line + n, row) for line, text in said for n, row in enumerate(text.splitlines()) if row.strip()]


def _job(
    name: str,
    dumper: Dumper,
    line: int,
    row: str,
    draft: StackDraft,
    texts: list[Said],
    everywhere: list[Said],
) -> BackupDraft:
    job = BackupDraft(name, {"engine": dumper.engine}, line, draft.cite(line, row), lines={line})
    cron = terms.cron_of(row, dumper.command)
    found = _first(texts, terms.schedule_of)
    if cron is not None:
        schedule, zone = cron, "UTC"
        job.notes["schedule"] = "its crontab line"
    elif found is not None:
        (schedule, zone, given), at = found
        job.notes["schedule"] = draft.cite(at, _said(texts, at)) + (
            "" if given else " — no time given: 02:00 assumed"
        )
        job.lines.add(at)
    else:
        schedule, zone = "0 2 * * *", "UTC"
        job.notes["schedule"] = "the runbook gives no schedule: daily at 02:00 assumed"
    _taken(job, dumper, row, draft, texts, (schedule, zone))
    rpo = _first(everywhere, lambda text: terms.objective(terms.RPO, text))
    if rpo is not None:
        job.fields["rpo"], job.notes["rpo"] = rpo[0], draft.cite(rpo[1], _said(everywhere, rpo[1]))
    else:
        job.fields["rpo"] = terms.rpo_for(schedule, zone)
        job.notes["rpo"] = "no RPO in the runbook: the longest gap between its backups and an hour"
    rto = _first(everywhere, lambda text: terms.objective(terms.RTO, text))
    if rto is not None:
        job.fields["rto"], job.notes["rto"] = rto[0], draft.cite(rto[1], _said(everywhere, rto[1]))
    return job


def _taken(
    job: BackupDraft, dumper: Dumper, row: str, draft: StackDraft, texts: list[Said], when: tuple[str, str]
) -> None:
    job.fields["source"], job.notes["source"] = _source(dumper, row, draft)
    job.fields["schedule"], job.fields["timezone"] = when
    job.fields["destination"] = f".vigil/backups/{job.name}"
    keep = _first(texts, terms.keep_of)
    if keep is not None:
        job.fields["keep"], job.notes["keep"] = keep[0], draft.cite(keep[1], _said(texts, keep[1]))
        job.lines.add(keep[1])
    else:
        job.fields["keep"] = {"count": 7}
        job.notes["keep"] = "the runbook says nothing of retention: the last 7 kept"
    restore = _first(texts, lambda text: "restore" if terms.verify_of(text) == "restore" else None)
    listed = restore or _first(texts, terms.verify_of)
    if listed is not None:
        job.fields["verify"], job.notes["verify"] = listed[0], draft.cite(listed[1], _said(texts, listed[1]))
    else:
        job.fields["verify"] = "list"
        job.notes["verify"] = "the runbook checks its backups no way Vigil reads: list (readable) assumed"


def _source(dumper: Dumper, row: str, draft: StackDraft) -> tuple[str, str]:
    """The job's source as an environment reference with a local default; a file path for SQLite."""
    if not dumper.tech:
        found = _SQLITE_FILE.search(row)
        path = found["file"] if found and "$" not in found["file"] else None
        return (
            (path, "the file the runbook's command backs up")
            if path
            else ("app.db", "the runbook's file is a variable: set it here")
        )
    tech = next(t for t in TECHNOLOGIES if t.name == dumper.tech)
    service = draft.services.get(tech.name)
    named = _VARIABLE.search(row)
    variable = (
        named["name"] if named else (service.variable if service and service.variable else tech.variables[0])
    )
    why = (
        f"${variable}, as the runbook's command reads it"
        if named
        else f"${variable}: the command names no variable"
    )
    if dumper.engine == "mongodb":  # the engine backs up the database the URL's path names
        return (
            "${" + variable + ":-mongodb://" + tech.default + "/app}",
            why + "; its database is the URL's path",
        )
    reference = "${" + variable + ":-" + tech.default + "}"
    collection = dumper.command.search(row)
    if dumper.engine == "qdrant" and collection is not None:
        return (
            f"{reference}/collections/{collection['collection']}",
            why + ", and the collection it snapshots",
        )
    return reference, why


def _first(texts: list[Said], read: Callable[[str], T | None]) -> tuple[T, int] | None:
    for line, text in texts:
        found = read(text)
        if found is not None:
            return found, line
    return None


def _said(texts: list[Said], line: int) -> str:
    return words(next((t for n, t in texts if n == line), ""))
