"""``depends_on`` from what the runbook draws and tabulates: Mermaid ``graph``/``flowchart``
edges, box-and-arrow diagrams, ``A -> B`` lines, "depends on" tables, and the dependencies a
health answer reports (``"services": {"redis": "healthy", "database": "healthy"}``).

An arrow from A to B reads "A calls B", so A depends on B.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from vigil.runbooks.importer import boxes
from vigil.runbooks.importer.document import Document
from vigil.runbooks.importer.model import ServiceDraft, StackDraft, literal, service_name
from vigil.runbooks.importer.services import name_column, resolve

_MERMAID_START = re.compile(r"^\s*(?:graph|flowchart)\b", re.I)
_MERMAID_SKIP = re.compile(
    r"^\s*(?:subgraph|end\b|classDef|class\b|style|linkStyle|click|%%|direction)", re.I
)
_MERMAID_LINK = re.compile(
    r"\s*<?(?:-{2,}|={2,}|-\.+-?)(?:[^-=.>|]*?(?:-{2,}|={2,}|\.+-))?[>ox]?(?:\|[^|]*\|)?\s*"
)
_MERMAID_NODE = re.compile(
    r"^(?P<id>[\w.-]+?)\s*(?:(?:\[\(|\(\(|\[\[|\[/|\[\\|\[|\(\[|\(|\{\{|\{|>)(?P<label>.*?)"
    r"(?:\)\]|\)\)|\]\]|/\]|\\\]|\]|\]\)|\)|\}\}|\}))?$"
)
_TEXT_ARROW = re.compile(r"\s*(?:-+>|=+>|→|⟶|➜|->)\s*")
_URL = re.compile(r"https?://[^\s)]+")
_USERS = re.compile(r"\b(?:users?|traffic|clients?|browsers?|internet|visitors?|customers?)\b", re.I)
_HOSTS = re.compile(
    r"(?i)\s*(?:railway|vercel|heroku|render|fly(?:\.io)?|netlify|aws|gcp|azure|cloudflare|github pages|"
    r"kubernetes|k8s|docker|ecs|lambda|cloud run)\b"
)
_DEPENDS = ("depends", "dependenc", "upstream", "requires", "calls", "uses", "needs")
_REPORTS = ("services", "checks", "dependencies", "components", "details")
MAX_NODES = 200  # nodes of one diagram


def find(document: Document, draft: StackDraft) -> None:
    for fence in document.fences:
        if fence.language == "mermaid" or _MERMAID_START.match(fence.code):
            for user, needed in _mermaid(fence.code):
                _edge(draft, user, needed, fence.line, "Mermaid diagram", create=True)
        elif boxes.has_boxes(fence.code):
            _boxes, arrows = boxes.connections(fence.code)
            for start, end in arrows:
                _edge(draft, start.text, end.text, fence.line, "diagram", create=True)
        if not fence.language or fence.language in ("text", "txt", "plain", "ascii"):
            for number, text in enumerate(fence.code.splitlines(), start=fence.line + 1):
                for user, needed in _chain(text):
                    _edge(draft, user, needed, number, "diagram", create=False)
    for item in document.items:
        if item.place.says("depend", "architecture", "flow", "diagram"):
            for user, needed in _chain(item.text):
                _edge(draft, user, needed, item.line, "list", create=False)
    for table in document.tables:
        column, depends = name_column(table), table.column(*_DEPENDS)
        if column is None or depends is None or depends == column:
            continue
        for row in table.rows:
            for needed in re.split(r"\s*(?:,|;|&|/|\band\b)\s*", row.cells.get(depends, "")):
                if needed and needed.strip("- ").lower() not in ("", "none", "n/a"):
                    _edge(draft, row.cells.get(column, ""), needed, row.line, "table", create=True)
    _reported(draft)


def _edge(draft: StackDraft, user: str, needed: str, line: int, what: str, *, create: bool) -> None:
    a, b = _node(draft, user, line, create), _node(draft, needed, line, create)
    if a is not None and b is not None and a is not b:
        draft.depend(a, b, draft.cite(line, f"{what}: {_short(user)} -> {_short(needed)}"))
        for service, text in ((a, user), (b, needed)):
            label = " ".join(_URL.sub(" ", text).split())
            if service.description is None and 0 < len(label) <= 80 and service_name(label) != service.name:
                service.description = literal(label)  # "Railway (Backend - FastAPI)"


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _node(draft: StackDraft, text: str, line: int, create: bool) -> ServiceDraft | None:
    """The service a diagram's box or node stands for; a new one only where the runbook
    draws it (never for the users or the traffic that come in)."""
    text = " ".join(re.sub(r"<[^>]+>|[\"*`]", " ", text).split())
    if not text:
        return None
    for url in _URL.findall(text):
        for service in draft.services.values():
            if service.url and service.url.split("://")[-1] in url:
                return service
    found = resolve(draft, text)
    if found is not None:
        return found
    parts = [p.strip() for p in re.split(r"[()\[\]/,:]|\s[-\u2013]\s", _URL.sub(" ", text)) if p.strip()]
    for part in parts:
        found = draft.find(part)
        if found is not None:
            return found
    if not create or _USERS.search(text) or not parts:
        return None
    # "Railway (Backend - FastAPI)": where it is hosted comes first, and the role names it.
    role = re.search(r"\(([^)]*)\)", text) if _HOSTS.match(text) else None
    name = re.split(r"\s[-\u2013]\s|,", role.group(1))[0] if role else parts[0]
    made = draft.service(service_name(name), line, draft.cite(line, text))
    if made is not None:
        draft.alias(made, *(service_name(p) for p in parts))
    return made


def _mermaid(code: str) -> Iterator[tuple[str, str]]:
    labels: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for statement in re.split(r"[\n;]", code):
        if _MERMAID_START.match(statement) or _MERMAID_SKIP.match(statement) or not statement.strip():
            continue
        groups: list[list[str]] = []
        for part in _MERMAID_LINK.split(statement.strip()):
            ids = []
            for node in part.split("&"):
                match = _MERMAID_NODE.match(node.strip())
                if match:
                    ids.append(match["id"])
                    if match["label"] and len(labels) < MAX_NODES:
                        labels.setdefault(match["id"], match["label"].strip("\"' "))
            groups.append(ids)
        for left, right in itertools.pairwise(groups):
            edges += [(a, b) for a in left for b in right]
    for a, b in edges:
        yield labels.get(a, a), labels.get(b, b)


def _chain(text: str) -> Iterator[tuple[str, str]]:
    parts = _TEXT_ARROW.split(text)
    if len(parts) > 1:
        yield from itertools.pairwise(parts)


def _reported(draft: StackDraft) -> None:
    """A service whose health answer reports on ``redis`` or ``database`` depends on them."""
    for service in list(draft.services.values()):
        if service.datastore or service.external:
            continue
        for check in service.checks.values():
            expect = check.fields.get("expect", {}).get("json")
            if not isinstance(expect, dict):
                continue
            names = list(expect)
            for key in _REPORTS:
                nested = expect.get(key)
                names += list(nested) if isinstance(nested, dict) else []
            for name in names:
                needed = draft.find(name)
                if needed is not None and needed is not service:
                    draft.depend(
                        service, needed, draft.cite(check.line, f"its health answer reports {name!r}")
                    )
