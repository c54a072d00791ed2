"""Finding the runbook sections a few words are about: BM25 over every section of a library, by
SQLite's FTS5 (in memory), so ranking is the database's well-tested code rather than ours.

A section is indexed as four columns, weighted so that a heading says more than a paragraph:
its title, the headings above it (and its file's name), its prose (which holds each step's
explanation) and its steps' code, where ``psql``, ``redis-cli`` or ``celery`` name what a procedure works on.

Query text comes from alerts, labels and probe reasons, so it is never handed to FTS5's query
language: it is cut to ``MAX_QUERY_CHARS``, split into plain words, and each word is quoted, so
``"``, ``*``, ``NEAR``, ``AND`` or parentheses are only ever words to look for.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from vigil.errors import RunbookError
from vigil.runbooks.model import Section

MAX_QUERY_CHARS = 4_000
MAX_TERMS = 48
MAX_LIMIT = 100
# title, headings above, prose, code
WEIGHTS = (10.0, 3.0, 1.0, 2.0)

# bm25() called with its weights, not through a configured ``rank``: that costs a third more per
# search over thousands of matching sections. The weights are constants, never input.
_QUERY = (
    f"SELECT rowid, bm25(sections, {', '.join(str(w) for w in WEIGHTS)}) AS score FROM sections "
    "WHERE sections MATCH ? ORDER BY score LIMIT ?"
)
_WORD = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_STATUS = re.compile(r"[45]\d\d")
# Words that every incident line carries ("api.health failed 3 times in a row: status 500,
# expected 200") and that would pull in whatever section happens to repeat them.
_STOP = """a an and are as at be been by for from has have in into is it its of on or the this that to was
were will with not no than then there after before while since got expected failed failing fails firing
fired time times row value values alert alerts alertname incident check checks runbook md www http https com"""
STOPWORDS = frozenset(_STOP.split())


@dataclass(frozen=True)
class Hit:
    section: Section
    score: float  # BM25, higher is better


def terms(text: str) -> list[str]:
    """The words of ``text`` worth searching for, lower case, each once, at most ``MAX_TERMS``:
    ``HighErrorRate`` gives ``higherrorrate high error rate``; numbers count only as HTTP error
    codes (``502``), stop words not at all."""
    found: dict[str, None] = {}
    for word in _WORD.findall(text[:MAX_QUERY_CHARS]):
        parts = _CAMEL.findall(word)
        for part in (word, *parts) if len(parts) > 1 else (word,):
            lowered = part.lower()
            if lowered.isdigit() and not _STATUS.fullmatch(lowered):
                continue
            if len(lowered) > 1 and lowered not in STOPWORDS:
                found.setdefault(lowered, None)
        if len(found) >= MAX_TERMS:
            break
    return list(found)[:MAX_TERMS]


def match_expression(words: Iterable[str]) -> str:
    """An FTS5 query that matches any of ``words``, each a quoted string (FTS5 doubles ``"``)."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


class SectionIndex:
    """Every section of a library, searchable. Built on first use (a server that is never asked
    pays nothing) and then kept: a library is read once per start."""

    def __init__(self, sections: Iterable[Section]) -> None:
        self.sections = list({section.id: section for section in sections}.values())
        self._db: sqlite3.Connection | None = None
        # The connection is shared by the event loop and the CLI's thread alike; one query at a time.
        self._lock = threading.Lock()

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        """The best ``limit`` sections for ``query``, best first; none when no word matches."""
        words = terms(query)
        if not words or not self.sections:
            return []
        limit = max(1, min(limit, MAX_LIMIT))
        with self._lock:
            db = self._db or self._build()
            rows = db.execute(_QUERY, (match_expression(words), limit)).fetchall()
        return [Hit(self.sections[rowid - 1], round(-rank, 3)) for rowid, rank in rows]

    def _build(self) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            db.execute(
                "CREATE VIRTUAL TABLE sections USING fts5("
                "title, headings, prose, code, tokenize = 'porter unicode61')"
            )
        except sqlite3.OperationalError as err:
            db.close()
            raise RunbookError(
                f"runbook search needs SQLite with FTS5, which this Python lacks: {err}"
            ) from None
        with db:
            db.executemany(
                "INSERT INTO sections(rowid, title, headings, prose, code) VALUES (?, ?, ?, ?, ?)",
                ((n, *columns(s)) for n, s in enumerate(self.sections, start=1)),
            )
            # One b-tree instead of the segments the inserts left: a third less time per search.
            db.execute("INSERT INTO sections(sections) VALUES ('optimize')")
        self._db = db
        return db


def columns(section: Section) -> tuple[str, str, str, str]:
    """What the index holds of ``section``: title, headings above it, prose, code."""
    headings = " ".join((PurePath(section.file).stem.replace("-", " "), *section.path[:-1]))
    code = "\n".join(f"{step.attributes.name or ''} {step.code}" for step in section.steps)
    return section.title, headings, section.text, code
