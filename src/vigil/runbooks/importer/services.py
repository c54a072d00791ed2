"""Services and their URLs from the runbook's tables ("Key Services": service, port, health
check, purpose; "Service URLs": service, environment, URL), its architecture list, and the
external services it depends on (kept as comments: their SLAs and status pages are not Vigil's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigil.runbooks.importer.datastores import TECHNOLOGIES
from vigil.runbooks.importer.document import Document, Row, Table
from vigil.runbooks.importer.model import ServiceDraft, StackDraft, literal, service_name, words
from vigil.runbooks.importer.variables import PLACEHOLDER, plain_url

_NAME_COLUMNS = ("service", "component", "name", "app", "system")
_DETAIL_COLUMNS = ("port", "url", "endpoint", "health", "host", "purpose", "description", "address")
_URL = re.compile(r"https?://[^\s|`'\"<>)]*[^\s|`'\"<>).,;]")
_HEALTH_PATH = re.compile(r"^(?:(?:GET|HEAD)\s+)?(/\S*)$", re.I)
_ARCHITECTURE = ("architecture", "overview", "stack", "infrastructure", "components")
_EXTERNAL = ("external", "third-party", "third party", "vendor", "provider")
MAX_ARCHITECTURE = 30


def name_column(table: Table) -> str | None:
    return next((h for h in table.header if any(h.startswith(n) for n in _NAME_COLUMNS)), None)


def is_external(table: Table) -> bool:
    return table.place.says(*_EXTERNAL) or table.column("status page", "sla") is not None


def find(document: Document, draft: StackDraft) -> None:
    for table in document.tables:
        column = name_column(table)
        if column is None or is_external(table) or table.column(*_DETAIL_COLUMNS) is None:
            continue
        for row in table.rows:
            _row(draft, row, row.cells.get(column, ""))
    for item in document.items:
        described = item.depth == 1 and ":" in item.text and item.checked is None
        if described and item.place.says(*_ARCHITECTURE) and len(draft.service_comments) < MAX_ARCHITECTURE:
            draft.service_comments.append(draft.cite(item.line, item.text))
    draft.external_words |= {service_name(e.name.split()[0]) for e in externals(document) if e.name.split()}


def resolve(draft: StackDraft, text: str) -> ServiceDraft | None:
    """The service ``text`` names: by name or alias, else by the datastore technology it mentions."""
    found = draft.find(text)
    if found is not None:
        return found
    for tech in TECHNOLOGIES:
        service = draft.services.get(tech.name)
        if service is not None and service.datastore and tech.mention.search(text):
            return service
    return None


def _row(draft: StackDraft, row: Row, name: str) -> None:
    if not name.strip():
        return
    why = draft.cite(row.line, row.words)
    # "Database | Production | Neon Dashboard": the name or where it is says which datastore.
    where = row.get("url", "endpoint", "address", "host")
    service = resolve(draft, name) or (resolve(draft, where) if where and "://" not in where else None)
    if service is None:
        service = draft.service(service_name(name), row.line, why)
        if service is None:
            return
    elif why != service.why:
        service.comments.append(why)
    draft.alias(service, service_name(name), name.strip().lower())
    purpose = row.get("purpose", "description", "role")
    if purpose and (service.description is None or service.datastore):
        known = service.description if service.description and service.datastore else ""
        service.description = f"{known} — {literal(purpose)}" if known else literal(purpose)
    port = row.get("port")
    if port.isdigit() and 0 < int(port) < 65536:
        service.port = int(port)
    _url(draft, service, row)
    _health(draft, service, row.get("health"), row.line)


def _url(draft: StackDraft, service: ServiceDraft, row: Row) -> None:
    cell = row.get("url", "endpoint", "address", "host")
    found = _URL.search(cell)
    where = row.get("environment", "env", "stage")
    if found and plain_url(found.group()) and (service.url is None or where.lower().startswith("prod")):
        service.url = found.group().rstrip("/")
        return
    if found and PLACEHOLDER.search(found.group()):
        service.comments.append(f"{draft.cite(row.line)}: {found.group()} is a placeholder, not checked")


def _health(draft: StackDraft, service: ServiceDraft, cell: str, line: int) -> None:
    """A path is the service's health endpoint; a datastore named there is one it needs
    (a worker whose health check is "Redis connection" depends on Redis)."""
    path = _HEALTH_PATH.match(cell.strip())
    if path:
        service.health_path = path.group(1)
        return
    needed = resolve(draft, cell) if cell else None
    if needed is not None and needed is not service:
        draft.depend(service, needed, draft.cite(line, f"its health check is {cell!r}"))


@dataclass(frozen=True)
class External:
    name: str
    line: int
    said: str  # the runbook's words
    purpose: str
    sla: str


def externals(document: Document) -> list[External]:
    """External services as the runbook lists them, in tables or in lists ("OpenAI API: LLM provider")."""
    found: list[External] = []
    for table in document.tables:
        column = name_column(table)
        if column is not None and is_external(table):
            for row in table.rows:
                name, purpose = row.cells.get(column, ""), row.get("purpose", "description", "role")
                found.append(External(name, row.line, row.words, purpose, row.get("sla")))
    for item in document.items:
        if item.place.says(*_EXTERNAL) and item.checked is None:
            name, _, purpose = item.text.partition(":")
            found.append(External(name, item.line, item.text, purpose.strip(), ""))
    return found


def describe_externals(document: Document, draft: StackDraft) -> None:
    """Once every service is known: an external one the draft checks gets the runbook's words as
    its description; the rest are kept as comments, and every SLA as a note (Vigil has none)."""
    for external in externals(document):
        first = external.name.split()[0] if external.name.split() else ""
        service = resolve(draft, external.name) or (resolve(draft, first) if first else None)
        if service is not None and (service.external or service.datastore):
            service.comments.append(draft.cite(external.line, external.said))
            if service.external and service.description is None and external.purpose:
                service.description = literal(words(external.purpose))
        else:
            draft.note("external services", external.line, external.said)
        if external.sla:
            draft.note("SLAs", external.line, f"{external.name}: {external.sla}")
