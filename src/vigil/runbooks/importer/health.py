"""Health checks from the runbook's own requests: ``curl …/health`` with the JSON it says to
expect, health-endpoint tables (``GET /health/ready`` → ``{"status": "ready", "db": "ok"}``),
and the health path of a service table; a ``/metrics`` URL becomes the service's metrics.

Only what judges health is kept of an expected answer: ``"status": "healthy"`` is a condition,
``"version": "1.0.0"`` is not (it changes with the next deploy).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from vigil.runbooks.importer.curl import Request, document, requests
from vigil.runbooks.importer.document import Document, Fence, Row
from vigil.runbooks.importer.model import (
    MAX_CHECKS,
    CheckDraft,
    ServiceDraft,
    StackDraft,
    literal,
    service_name,
)
from vigil.runbooks.importer.variables import PLACEHOLDER, Variables, is_secret

HEALTH_PATH = re.compile(
    r"(?:^|/)(?:health\w*|healthz|readyz?|readiness|livez?|liveness|ping|status(?:\.json)?|heartbeat)(?:/|$)",
    re.I,
)
_PROBING = re.compile(r"\b(?:check|test|verify|health|ping|status)", re.I)
_HEALTHY = {"healthy", "ok", "ready", "alive", "up", "pass", "passing", "green", "true", "connected"}
_HEALTHY |= {"available", "operational", "running", "success", "live", "online"}
_KEY = re.compile(r"[A-Za-z_][\w-]*")
_VARIABLE_URL = re.compile(r"\$\{?(?P<name>[A-Z][A-Z0-9_]*)\}?(?P<rest>.*)")
_ENDPOINT = re.compile(r"^(?:(?P<method>GET|HEAD)\s+)?(?P<target>\S+)$", re.I)
_AUTH_HEADERS = ("authorization", "api-key", "x-api-key", "token", "cookie", "x-auth-token")
_GENERIC_LABELS = {"api", "www", "app", "status", "web", "prod", "production", "up", "my"}


def find(document: Document, draft: StackDraft, variables: Variables) -> None:
    fences = document.fences
    for index, fence in enumerate(fences):
        found = list(requests(fence))
        after = fences[index + 1] if index + 1 < len(fences) else None
        if found and found[-1].expected is None and _answer(after, fence):
            found[-1].expected = document_of(after.code) if after else None
        for request in found:
            _request(draft, variables, request)
    for table in document.tables:
        column = table.column("endpoint", "path", "route", "url")
        if column and (table.place.says("health", "endpoint") or table.column("expected", "response")):
            owner = _base(draft, table.line)
            for row in table.rows:
                _row(draft, row, row.cells.get(column, ""), owner)
    for service in list(draft.services.values()):
        if service.health_path and not any(_path(c) == service.health_path for c in service.checks.values()):
            base = service.url or (f"http://127.0.0.1:{service.port}" if service.port else None)
            if base:
                why = f"{service.name}'s health check in the runbook's table"
                _check(draft, service, {"http": base + service.health_path}, service.line, why)
        elif service.url and not service.checks and not (service.datastore or service.external):
            why = f"{service.name}'s URL in the runbook; it names no health endpoint for it"
            _check(draft, service, {"http": service.url}, service.line, why)


def _answer(after: Fence | None, fence: Fence) -> bool:
    """Whether ``after`` is a ``json`` block the runbook says a request in ``fence`` answers with."""
    return (
        after is not None
        and after.language == "json"
        and after.place.section is fence.place.section
        and bool(re.search(r"expect|respon|return", after.place.lead, re.I))
    )


def document_of(text: str) -> Any:
    return document(text) if len(text) < 20_000 else None


def conditions(expected: Any, depth: int = 0) -> dict[str, Any] | None:
    """The fields of an expected answer that say it is healthy."""
    if not isinstance(expected, dict) or depth > 3:
        return None
    kept: dict[str, Any] = {}
    for key, value in expected.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            continue
        if isinstance(value, dict):
            nested = conditions(value, depth + 1)
            if nested:
                kept[key] = nested
        elif value is True or (isinstance(value, str) and value.lower() in _HEALTHY):
            kept[key] = value
    return kept or None


def _request(draft: StackDraft, variables: Variables, request: Request) -> None:
    target = _target(draft, variables, request.url, request.line)
    if target is None:
        return
    url, path, service, known = target
    if path.rstrip("/").endswith("/metrics"):
        if not service.external and url.startswith("http"):
            service.metrics = service.metrics or url
        return
    home = path in ("", "/") and known
    if not (HEALTH_PATH.search(path) or home or (known and _PROBING.search(request.comment))):
        return
    fields: dict[str, Any] = {"http": url}
    if request.method != "GET":
        fields["method"] = request.method
    if request.headers:
        fields["headers"] = {name: _header(variables, name, value) for name, value in request.headers.items()}
    expected = conditions(request.expected)
    if expected:
        fields["expect"] = {"json": expected}
    if request.insecure:
        fields["tls_verify"] = False
    said = f"{request.comment}: {request.url}" if request.comment else f"curl {request.url}"
    _check(draft, service, fields, request.line, draft.cite(request.line, said))


def _row(draft: StackDraft, row: Row, cell: str, owner: tuple[ServiceDraft, str] | None) -> None:
    """A health table's row; ``owner`` is the service (and base URL) its bare paths belong to."""
    endpoint = _ENDPOINT.match(cell.strip())
    if endpoint is None:
        return
    method, target = (endpoint["method"] or "GET").upper(), endpoint["target"]
    if target.startswith("/"):
        if owner is None:
            return
        service, url = owner[0], owner[1] + target
    else:
        found = _target(draft, Variables(), target, row.line)
        if found is None:
            return
        url, _path, service, _known = found
    fields: dict[str, Any] = {"http": url}
    if method != "GET":
        fields["method"] = method
    said = row.get("expected", "response", "returns")
    expected = conditions(document_of(said)) if said else None
    if expected:
        fields["expect"] = {"json": expected}
    elif re.fullmatch(r"[1-5]\d\d\b.*", said):
        fields["expect"] = {"status": int(said[:3])}
    purpose = row.get("purpose", "description")
    if purpose:
        fields["description"] = literal(purpose)
    _check(draft, service, fields, row.line, draft.cite(row.line, row.words))


def _check(draft: StackDraft, service: ServiceDraft, fields: dict[str, Any], line: int, why: str) -> None:
    """Add the check, or fold it into the one with the same request (a table's expected JSON
    and a curl example of the same URL are one check)."""
    for existing in service.checks.values():
        if existing.fields.get("http") == fields["http"] and existing.fields.get("method") == fields.get(
            "method"
        ):
            for key, value in fields.items():
                existing.fields.setdefault(key, value)
            if why not in existing.also and why != existing.why and len(existing.also) < 3:
                existing.also.append(why)
            return
    name = _name(_path(CheckDraft("", fields, 0, "")))
    if service.add_check(CheckDraft(name, fields, line, why)) is None:
        draft.note("not drafted", line, f"check {service.name}.{name}: past the {MAX_CHECKS} a service holds")


def _path(check: CheckDraft) -> str:
    url = str(check.fields.get("http", ""))
    if url.startswith("${"):
        return url.split("}", 1)[-1]
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _name(path: str) -> str:
    parts = [p for p in path.split("/") if p and not re.fullmatch(r"api|v\d+", p)]
    if not parts:
        return "home"
    parts[-1] = parts[-1].removesuffix(".json")
    return service_name("-".join(parts[-2:] if parts[0].startswith("health") else parts[:2]))


def _target(
    draft: StackDraft, variables: Variables, raw: str, line: int
) -> tuple[str, str, ServiceDraft, bool] | None:
    """(URL for the stack file, its path, the service it belongs to, whether that service was
    known before this request); None for a URL with a placeholder in it."""
    variable = _VARIABLE_URL.fullmatch(raw)
    if variable:
        name, rest = variable["name"], variable["rest"]
        if PLACEHOLDER.search(rest) or "$" in rest:
            return None
        found = next((s for s in draft.services.values() if s.variable == name), None)
        stem = re.sub(r"_(URL|URI|HOST|ADDR|ADDRESS|ENDPOINT|BASE)$", "", name).lower()
        found = found or draft.find(stem)
        known = found is not None
        service = found or draft.service(service_name(stem), line, draft.cite(line, raw))
        return (variables.reference(name) + rest, rest, service, known) if service else None
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
    except ValueError:
        return None
    if not host or PLACEHOLDER.search(raw) or "$" in raw or parts.scheme not in ("http", "https"):
        if PLACEHOLDER.search(raw):
            draft.note("requests not checked", line, f"{raw} has a placeholder in it")
        return None
    url = raw.rstrip("?")
    base = f"{parts.scheme}://{parts.netloc}"
    for service in draft.services.values():
        if service.url and _netloc(service.url) == parts.netloc:
            return url, parts.path, service, True
    apps = [s for s in draft.services.values() if not s.datastore and not s.external and s.url is None]
    owners = [s for s in apps if s.health_path and s.health_path == parts.path]
    if len(owners) == 1:  # "FastAPI | 8080 | /health" and `curl https://…/health`: one service
        owners[0].url = base
        return url, parts.path, owners[0], True
    name = _host_name(host)
    service = draft.service(name, line, draft.cite(line, f"curl {raw}"))
    if service is None:
        return None
    service.url = service.url or base
    service.external = service.external or name in draft.external_words
    return url, parts.path, service, False


@functools.lru_cache(maxsize=1024)
def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""


def _host_name(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return "app"
    except ValueError:
        pass
    labels = host.split(".")[:-1] if "." in host else [host]
    useful = [label for label in labels if label not in _GENERIC_LABELS]
    return service_name(useful[0]) if useful and host != "localhost" else "app"


def _base(draft: StackDraft, line: int) -> tuple[ServiceDraft, str] | None:
    """The service a table's bare path (``GET /health``) belongs to, and its base URL."""
    apps = [s for s in draft.services.values() if not s.datastore and not s.external]
    checked = [s for s in apps if s.url and any(HEALTH_PATH.search(_path(c)) for c in s.checks.values())]
    with_url = [s for s in apps if s.url]
    for group in (checked, with_url):
        if len(group) == 1:
            return group[0], str(group[0].url)
    named = [s for s in apps if s.name in ("api", "backend", "server", "app", "web")]
    service = named[0] if named else draft.service("api", line, draft.cite(line, "health endpoints, no host"))
    if service is None:
        return None
    return service, service.url or f"http://127.0.0.1:{service.port or 8080}"


def _header(variables: Variables, name: str, value: str) -> str:
    """A header value with its variables as ``${VAR:-…}``; a credential is never written as it is."""
    scheme, _, credential = value.partition(" ") if " " in value else ("", "", value)
    variable = _VARIABLE_URL.fullmatch(credential)
    if variable and not variable["rest"]:
        credential = variables.reference(variable["name"])
    elif name.lower() in _AUTH_HEADERS or PLACEHOLDER.search(credential) or is_secret(name):
        placeholder = re.sub(r"[^A-Za-z0-9]+", "_", credential.strip("<>[]{}")).upper().strip("_")
        env = placeholder if placeholder.isidentifier() and PLACEHOLDER.search(credential) else "API_TOKEN"
        credential = "${" + env + ":-}"
    else:
        credential = literal(credential)
    return f"{scheme} {credential}" if scheme else credential
