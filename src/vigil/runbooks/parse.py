"""Markdown to a ``Runbook`` with markdown-it-py: sections from headings, steps from fenced code
blocks, and the runbook's own review dates.

Real runbooks are taken as they are; only what would make reading them unbounded is refused,
with one line naming the file: text that is not UTF-8, a file over ``MAX_BYTES``, or nesting
deeper than ``MAX_NESTING`` (markdown-it stops nesting there and would silently drop the rest).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from dateutil import parser as dateparser
from markdown_it import MarkdownIt
from markdown_it.token import Token

from vigil.config import bounded_read
from vigil.errors import RunbookError
from vigil.runbooks.attributes import parse_attributes, split_info
from vigil.runbooks.model import LANGUAGES, Review, Runbook, Section, Step, StepKind
from vigil.runbooks.slug import Slugger

MAX_BYTES = 10 * 1024 * 1024
MAX_NESTING = 64
MAX_SECTIONS = 100_000
_EXPLANATION = 600  # characters of prose kept before a step
_REVIEW = re.compile(
    r"(?i)\b(?P<what>last[ _-]*(?:updated|reviewed|modified)|next[ _-]*review(?:[ _-]*date)?|review[ _-]+by)"
    r"\b[\s*_:|-]*(?P<date>[^|\n]{4,40})"
)

_md = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable("table")


@dataclass(frozen=True)
class Markdown:
    """A runbook's text and markdown-it's tokens of it, for readers other than the section builder
    (``vigil import`` reads tables, lists and fences the same parse found)."""

    file: str
    text: str
    tokens: list[Token]


def read_runbook(path: Path, name: str | None = None) -> Runbook:
    """Read and parse the file at ``path``; ``name`` is how sections are addressed (default: the path)."""
    return runbook_of(read_markdown(path, name))


def read_markdown(path: Path, name: str | None = None) -> Markdown:
    """The file at ``path`` as tokens, within the bounds every runbook is read with."""
    shown = name or str(path)
    return parse_markdown(bounded_read.read_file(path, MAX_BYTES, "runbook", RunbookError, shown), shown)


def parse_runbook(data: bytes | str, file: str) -> Runbook:
    return runbook_of(parse_markdown(data, file))


def runbook_of(markdown: Markdown) -> Runbook:
    return _Builder(markdown.file).build(markdown.tokens, markdown.text)


def parse_markdown(data: bytes | str, file: str) -> Markdown:
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise RunbookError(bounded_read.too_big(file, "runbook", MAX_BYTES, len(data)))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            raise RunbookError(f"{file}:{line}: the runbook is not UTF-8 text (byte {err.start:,})") from None
    else:
        text = data
        if len(text) > MAX_BYTES:
            raise RunbookError(f"{file}: {len(text):,} characters is more than a runbook may have")
    text = text.removeprefix("\ufeff")
    tokens = _md.parse(text)
    deepest = max((t for t in tokens if t.level >= MAX_NESTING - 1), key=lambda t: t.level, default=None)
    if deepest is not None:
        line = deepest.map[0] + 1 if deepest.map else 1
        raise RunbookError(f"{file}:{line}: lists or quotes nested deeper than {MAX_NESTING} levels")
    return Markdown(file, text, tokens)


def plain(inline: Token) -> str:
    """The text of an inline token, without its Markdown."""
    parts: list[str] = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


@dataclass
class _Open:
    """The section being read."""

    slug: str
    title: str
    level: int
    line: int
    parent: str | None
    path: tuple[str, ...]
    prose: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    since_step: str = ""


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.slugger = Slugger()
        self.sections: list[Section] = []
        self.faults: list[str] = []
        self.stack: list[_Open] = []  # enclosing headings, innermost last
        self.current = _Open("", "", 0, 1, None, ())

    def build(self, tokens: list[Token], text: str) -> Runbook:
        title = ""
        for i, token in enumerate(tokens):
            if token.type == "heading_open":
                heading = plain(tokens[i + 1])
                title = title or (heading if token.tag == "h1" else "")
                self._start(heading, int(token.tag[1]), token.map[0] + 1 if token.map else 1)
            elif token.type == "inline" and (i == 0 or tokens[i - 1].type != "heading_open"):
                words = plain(token)
                if words:
                    self.current.prose.append(words)
                    self.current.since_step = words
            elif token.type in ("fence", "code_block"):
                self._step(token)
        self._close()
        return Runbook(
            self.file,
            title or (self.sections[0].title if self.sections else self.file),
            tuple(self.sections),
            _review(text),
            tuple(self.faults),
        )

    def _start(self, title: str, level: int, line: int) -> None:
        self._close()
        while self.stack and self.stack[-1].level >= level:
            self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        slug = self.slugger(title)
        self.current = _Open(
            slug,
            title,
            level,
            line,
            f"{self.file}#{parent.slug}" if parent else None,
            (*parent.path, title) if parent else (title,),
        )
        self.stack.append(self.current)

    def _step(self, token: Token) -> None:
        language, attrs = split_info(token.info) if token.type == "fence" else ("", "")
        attributes, faults = parse_attributes(attrs)
        line = token.map[0] + 1 if token.map else 1
        self.faults += [f"{self.file}:{line}: {fault}" for fault in faults]
        kind = LANGUAGES.get(language, StepKind.SHOWN)
        code = token.content
        if language == "console":
            code = "".join(_unprompt(row) for row in code.splitlines(keepends=True))
        explanation = self.current.since_step[-_EXPLANATION:]
        self.current.steps.append(
            Step(len(self.current.steps) + 1, language, kind, code, explanation, line, attributes)
        )
        self.current.since_step = ""

    def _close(self) -> None:
        opened = self.current
        if not opened.slug and not opened.prose and not opened.steps:
            return
        if len(self.sections) >= MAX_SECTIONS:
            raise RunbookError(f"{self.file}: more than {MAX_SECTIONS:,} sections")
        self.sections.append(
            Section(
                self.file,
                opened.slug,
                opened.title or self.file,
                opened.level,
                opened.line,
                "\n".join(opened.prose),
                tuple(opened.steps),
                opened.parent,
                opened.path,
            )
        )


def _unprompt(row: str) -> str:
    """A ``console`` block's line: ``$ cmd`` runs as ``cmd``; a line without a prompt is output."""
    stripped = row.lstrip()
    if stripped.startswith("$ "):
        return stripped[2:]
    return "" if stripped.strip() else row


def _review(text: str) -> Review:
    found: dict[str, tuple[dt.date, int]] = {}
    for number, row in enumerate(text.splitlines()[:400], start=1):
        for match in _REVIEW.finditer(row):
            date = _date(match.group("date"))
            kind = "next" if match.group("what").lower().startswith(("next", "review")) else "last"
            if date is not None and kind not in found:
                found[kind] = (date, number)
    for number, row in enumerate(text.splitlines()[-40:], start=max(1, text.count("\n") - 38)):
        for match in _REVIEW.finditer(row):
            date = _date(match.group("date"))
            kind = "next" if match.group("what").lower().startswith(("next", "review")) else "last"
            if date is not None and kind not in found:
                found[kind] = (date, number)
    last, next_ = found.get("last"), found.get("next")
    return Review(
        last[0] if last else None,
        next_[0] if next_ else None,
        (last or next_ or (None, 0))[1],
    )


def _date(text: str) -> dt.date | None:
    cleaned = text.strip(" *_`:|-\t").rstrip(".")
    if not any(c.isdigit() for c in cleaned):
        return None
    try:
        parsed: dt.datetime = dateparser.parse(cleaned, default=dt.datetime(2000, 1, 1))
        return parsed.date()
    except (ValueError, OverflowError):
        return None
