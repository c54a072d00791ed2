"""Datastores the runbook names (PostgreSQL, Redis, MySQL, Qdrant …): a service each, with a
check of the probe kind that fits, its URL taken from the runbook's environment variables as
``${VAR:-a local default}``, and those variables under ``env:`` where the runbook's steps read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigil.runbooks.importer.document import Document
from vigil.runbooks.importer.model import CheckDraft, StackDraft, literal
from vigil.runbooks.importer.variables import Variables, is_secret


@dataclass(frozen=True)
class Technology:
    name: str  # the service's name in the draft
    title: str
    kind: str  # the probe kind that checks it
    mention: re.Pattern[str]
    variables: tuple[str, ...]  # the names its URL conventionally goes by
    schemes: tuple[str, ...]
    default: str  # a local server, so that the draft validates with the variable unset
    health: str = ""  # for an http kind: the health path the product documents
    aliases: tuple[str, ...] = ()  # how runbooks call it besides its name


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


TECHNOLOGIES = (
    Technology(
        "postgres", "PostgreSQL", "postgres",
        _words(r"\bpostgres(?:ql)?\b|\bneon\b|\bpsql\b|\bpg_(?:dump|restore|stat\w*)\b|\bsupabase\b"),
        ("DATABASE_URL", "POSTGRES_URL", "POSTGRESQL_URL", "PG_URL"), ("postgres", "postgresql"),
        "postgresql://postgres@127.0.0.1:5432/postgres", aliases=("postgresql", "neon", "neon-postgres"),
    ),
    Technology(
        "mysql", "MySQL", "mysql", _words(r"\bmysql\b|\bmariadb\b|\bplanetscale\b"),
        ("MYSQL_URL", "MARIADB_URL", "DATABASE_URL"), ("mysql", "mariadb"),
        "mysql://root@127.0.0.1:3306/mysql", aliases=("mariadb",),
    ),
    Technology(
        "redis", "Redis", "redis", _words(r"\bredis\b|\bvalkey\b|\bupstash\b"),
        ("REDIS_URL", "REDIS_URI", "CACHE_URL", "CELERY_BROKER_URL", "BROKER_URL"), ("redis", "rediss"),
        "redis://127.0.0.1:6379/0", aliases=("valkey", "cache"),
    ),
    Technology(
        "qdrant", "Qdrant", "http", _words(r"\bqdrant\b"), ("QDRANT_URL",), (),
        "http://127.0.0.1:6333", health="/healthz", aliases=("qdrant-cloud", "vectors", "vector-database"),
    ),
    Technology(
        "elasticsearch", "Elasticsearch", "http", _words(r"\belasticsearch\b|\bopensearch\b"),
        ("ELASTICSEARCH_URL", "OPENSEARCH_URL", "ES_URL"), (), "http://127.0.0.1:9200",
        health="/_cluster/health", aliases=("opensearch",),
    ),
    Technology(
        "mongodb", "MongoDB", "tcp", _words(r"\bmongo(?:db)?\b"), ("MONGODB_URL", "MONGO_URL"),
        ("mongodb", "mongodb+srv"), "127.0.0.1:27017", aliases=("mongo",),
    ),
    Technology(
        "rabbitmq", "RabbitMQ", "tcp", _words(r"\brabbitmq\b"), ("RABBITMQ_URL", "AMQP_URL"),
        ("amqp", "amqps"), "127.0.0.1:5672",
    ),
)  # fmt: skip
SQL = ("postgres", "mysql")


def find(document: Document, draft: StackDraft, variables: Variables) -> None:
    """A service for every technology the runbook names, with the variable its URL is in."""
    prose = sorted((line, text) for line, text, _ in document.words())
    listed = {item.line for item in document.items}
    claimed: set[str] = set()
    for tech in TECHNOLOGIES:
        match = tech.mention.search(document.text)
        if match is None:
            continue
        line, said = next(((n, t) for n, t in prose if tech.mention.search(t)), (0, ""))
        line = line or document.text.count("\n", 0, match.start()) + 1
        service = draft.service(tech.name, line, draft.cite(line, said or match.group()))
        if service is None:
            return
        service.datastore = tech.name
        draft.alias(service, tech.name, *tech.aliases)
        short = line in listed and len(said) < 80  # "Database: PostgreSQL 15 (Railway managed)"
        label, _, rest = said.partition(": ")
        said = rest if rest and tech.mention.search(rest) and not tech.mention.search(label) else said
        service.description = service.description or (literal(said) if short else tech.title)
        variable = _variable(tech, variables, claimed)
        claimed.add(variable)
        if tech.kind != "tcp":
            variables.defaults[variable] = tech.default
        service.variable = variable
    sql = [s for s in draft.services.values() if s.datastore in SQL]
    if len(sql) == 1:  # "database" and "db" mean the one SQL database there is
        draft.alias(sql[0], "database", "db")
    _env(draft, variables)


def _variable(tech: Technology, variables: Variables, claimed: set[str]) -> str:
    names = [n for n in variables.names if n not in claimed]
    by_scheme = [n for n in names if tech.schemes and variables.scheme(n) in tech.schemes]
    by_name = [n for n in tech.variables if n in names and variables.scheme(n) in ("", *tech.schemes)]
    by_tool = [n for n in names if variables.tools.get(n) == tech.name]
    by_word = [n for n in names if tech.name.upper() in n and n.endswith(("URL", "URI", "DSN"))]
    for found in (by_scheme, by_tool, by_name, by_word):
        if found:
            return found[0]
    return next((n for n in tech.variables if n not in claimed), tech.variables[0])


def _env(draft: StackDraft, variables: Variables) -> None:
    """Datastore URLs the steps read go under ``env:`` with a local default, so that a
    procedure runs at once against a local server; the others are named in a comment."""
    for service in draft.services.values():
        name = service.variable
        if service.datastore and name and name in variables.used and name in variables.defaults:
            use = variables.used[name]
            draft.env[name] = (variables.reference(name), draft.cite(use.line, use.words))
    rest = [n for n in variables.names if n not in draft.env]
    if rest:
        shown = ", ".join(rest[:40]) + (f" and {len(rest) - 40} more" if len(rest) > 40 else "")
        draft.env_comments.append(f"The runbook also uses {shown}: set them in the environment.")
        if any(is_secret(n) for n in rest):
            draft.env_comments.append("Secrets stay there: a stack file never holds one.")


def finish(draft: StackDraft, variables: Variables) -> None:
    """A check for each datastore that the runbook's own commands gave none."""
    for tech in TECHNOLOGIES:
        service = draft.services.get(tech.name)
        if service is None or service.datastore != tech.name or service.checks:
            continue
        name = service.variable or tech.variables[0]
        if tech.kind == "tcp":
            target = tech.default
            why = f"{tech.title}: Vigil has no {tech.title} probe; this only connects to its port"
        else:
            target = variables.reference(name) + tech.health
            why = (
                f"{tech.title}'s {tech.health}, at ${name}"
                if tech.kind == "http"
                else f"{tech.title} at ${name}"
            )
        service.add_check(CheckDraft("health", {tech.kind: target}, service.line, why))
