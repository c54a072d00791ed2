"""A runbook as the importer reads it: its tables, list items, fences and paragraphs, each with
its line and the headings above it, from the same markdown-it parse that gives the sections.

The readers of the importer (services, health checks, alerts …) look for the runbook's words
in these blocks; none of them walks tokens itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from markdown_it.token import Token

from vigil.runbooks.attributes import split_info
from vigil.runbooks.model import Runbook, Section
from vigil.runbooks.parse import Markdown, plain


@dataclass(frozen=True)
class Place:
    """Where a block stands: the section it is in, the headings above it and the prose that
    introduces it (``Critical Alerts (Page On-Call):`` before a list)."""

    section: Section | None
    headings: tuple[str, ...]
    lead: str

    @property
    def heading(self) -> str:
        return self.headings[-1] if self.headings else ""

    def says(self, *words: str) -> bool:
        """Whether the innermost heading or the lead uses one of ``words`` (lower case)."""
        text = f"{self.heading} {self.lead}".lower()
        return any(word in text for word in words)


@dataclass(frozen=True)
class Row:
    line: int
    cells: dict[str, str]  # lower-cased header → cell text

    def get(self, *names: str) -> str:
        """The first cell whose header contains one of ``names``; "" when none does."""
        for name in names:
            for header, cell in self.cells.items():
                if name in header:
                    return cell
        return ""

    @property
    def words(self) -> str:
        return " | ".join(self.cells.values())


@dataclass(frozen=True)
class Table:
    line: int
    header: tuple[str, ...]  # lower case
    rows: tuple[Row, ...]
    place: Place

    def column(self, *names: str) -> str | None:
        return next((h for h in self.header for n in names if n in h), None)


@dataclass(frozen=True)
class Item:
    line: int
    text: str
    depth: int
    checked: bool | None  # None: not a checklist item
    place: Place


@dataclass(frozen=True)
class Fence:
    line: int
    language: str
    code: str
    place: Place


@dataclass(frozen=True)
class Paragraph:
    line: int
    text: str
    place: Place


@dataclass
class Document:
    file: str
    text: str
    runbook: Runbook
    tables: list[Table] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)

    @classmethod
    def of(cls, markdown: Markdown, runbook: Runbook) -> Document:
        document = cls(markdown.file, markdown.text, runbook)
        _Reader(document).read(markdown.tokens)
        return document

    def words(self) -> Iterator[tuple[int, str, Place]]:
        """Every piece of prose with its line: paragraphs, list items and table rows."""
        for paragraph in self.paragraphs:
            yield paragraph.line, paragraph.text, paragraph.place
        for item in self.items:
            yield item.line, item.text, item.place
        for table in self.tables:
            for row in table.rows:
                yield row.line, row.words, table.place


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 1


class _Reader:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.by_line = {s.line: s for s in document.runbook.sections if s.slug}
        self.section: Section | None = None
        self.headings: list[tuple[int, str]] = []
        self.last_text = ""  # the latest paragraph, the lead of what follows it
        self.leads: list[str] = []  # one per open list

    def place(self, lead: str | None = None) -> Place:
        shown = self.last_text if lead is None else lead
        return Place(self.section, tuple(h for _, h in self.headings), shown)

    def read(self, tokens: list[Token]) -> None:
        depth = 0
        for i, token in enumerate(tokens):
            kind = token.type
            if kind == "heading_open":
                level = int(token.tag[1])
                while self.headings and self.headings[-1][0] >= level:
                    self.headings.pop()
                self.headings.append((level, plain(tokens[i + 1])))
                self.section = self.by_line.get(_line(token), self.section)
                self.last_text = ""
            elif kind in ("bullet_list_open", "ordered_list_open"):
                self.leads.append(self.last_text if depth == 0 else self.leads[-1])
                depth += 1
            elif kind in ("bullet_list_close", "ordered_list_close"):
                depth -= 1
                self.leads.pop()
                if depth == 0:
                    self.last_text = ""  # a list's last item introduces nothing after the list
            elif kind == "table_open":
                self.document.tables.append(self._table(tokens, i))
            elif kind == "inline" and tokens[i - 1].type == "paragraph_open":
                self._paragraph(token, _line(tokens[i - 1]), depth)
            elif kind in ("fence", "code_block"):
                language = split_info(token.info)[0]
                self.document.fences.append(Fence(_line(token), language, token.content, self.place()))

    def _paragraph(self, inline: Token, line: int, depth: int) -> None:
        text = plain(inline)
        if not text:
            return
        if depth:
            checked = None
            if text[:4].lower() in ("[ ] ", "[x] "):
                checked, text = text[1] != " ", text[4:].strip()
            lead = self.leads[-1] if self.leads else ""
            self.document.items.append(Item(line, text, depth, checked, self.place(lead)))
        else:
            self.document.paragraphs.append(Paragraph(line, text, self.place()))
        self.last_text = text

    def _table(self, tokens: list[Token], start: int) -> Table:
        header: list[str] = []
        rows: list[Row] = []
        cells: list[str] = []
        row_line = _line(tokens[start])
        for index in range(start + 1, len(tokens)):  # not a slice: a copy of the rest per table is quadratic
            token = tokens[index]
            if token.type == "table_close":
                break
            if token.type == "tr_open":
                cells, row_line = [], _line(token)
            elif token.type == "inline":
                cells.append(plain(token))
            elif token.type == "tr_close":
                if not header:
                    header = [c.lower() for c in cells]
                else:
                    named = {
                        h or f"column {n + 1}": c for n, (h, c) in enumerate(zip(header, cells, strict=False))
                    }
                    rows.append(Row(row_line, named))
        return Table(_line(tokens[start]), tuple(header), tuple(rows), self.place())
