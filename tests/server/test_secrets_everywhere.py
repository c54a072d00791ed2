"""One redactor everywhere: a value that came from the environment never comes back out.

Secrets are planted through environment variables in every place a stack file can hold one;
the checks really run (against closed ports) and page a real receiver; a responder pastes two
of them into a note and a silence. Then every GET operation of the OpenAPI document, every
dashboard page and fragment, the log and the receiver are searched for each secret in every
spelling it could take (as is, percent-encoded, JSON- and HTML-escaped).
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.server.conftest import Switch
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.engine.runner import CheckRunner
from vigil.server.app import create_app
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_token
from vigil.store.database import open_database

SECRETS = {
    "API_KEY": "apikey-Q7x9z2",
    "PATH_SECRET": "pathsecret-Lk2",
    "URL_PASSWORD": "userinfo-Pw93",
    "HEADER_SECRET": "header-Tk55",
    "BODY_SECRET": "bodysecret-Zz1",
    "PG_PASSWORD": "pgpass-Vv81",
    "REDIS_PASSWORD": "redispass-Rr2",
    "MYSQL_PASSWORD": "mysqlpass-Mm7",
    "CMD_SECRET": 's3c<r&t>"cmd',
    "HOOK_SECRET": "hookpath-Hh4",
    "HOOK_HEADER": "hookheader-Jj6",
    "METRICS_URL_KEY": "metricskey-Ww3",
    "PAGER_TOPIC": "pagertopic-Pp5",
    "ANA_EMAIL": "ana-Ee8@example.org",
}

STACK = """
notify:
  channels:
    hook:
      webhook: "{receiver}/hook/${{HOOK_SECRET}}"
      headers: {{X-Key: "${{HOOK_HEADER}}"}}
  default: [hook]
people:
  ana: {{notify: ["ntfy://ntfy.sh/${{PAGER_TOPIC}}"], email: "${{ANA_EMAIL}}", name: Ana}}
oncall:
  schedules:
    primary: {{rotation: {{every: 1w, start: 2026-01-01}}, members: [ana]}}
services:
  api:
    metrics: "http://127.0.0.1:9/metrics?key=${{METRICS_URL_KEY}}"
    checks:
      query:
        http: "http://127.0.0.1:9/echo?apikey=${{API_KEY}}"
        alert: {{after: 1, severity: P1}}
      path: {{http: "http://127.0.0.1:9/${{PATH_SECRET}}/health", alert: {{after: 1}}}}
      userinfo: {{http: "http://bob:${{URL_PASSWORD}}@127.0.0.1:9/", alert: {{after: 1}}}}
      headed:
        http: "http://127.0.0.1:9/"
        method: POST
        headers: {{Authorization: "Bearer ${{HEADER_SECRET}}"}}
        body: {{token: "${{BODY_SECRET}}"}}
  db:
    checks:
      pg: {{postgres: "postgresql://app:${{PG_PASSWORD}}@127.0.0.1:9/app", alert: {{after: 1}}}}
      cache: {{redis: "redis://:${{REDIS_PASSWORD}}@127.0.0.1:9/0", alert: {{after: 1}}}}
      my: {{mysql: "mysql://app:${{MYSQL_PASSWORD}}@127.0.0.1:9/app", alert: {{after: 1}}}}
      script:
        command: ["sh", "-c", "echo 'failed with ${{CMD_SECRET}}'; exit 3"]
        alert: {{after: 1}}
"""


def spellings(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), html.escape(secret), json.dumps(secret)[1:-1]}


def leaks(text: str) -> list[str]:
    return [s for secret in SECRETS.values() for s in spellings(secret) if s in text]


async def test_no_secret_appears_in_any_answer_page_log_line_or_notification(
    tmp_path: Path, receiver: Switch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    engine = await open_database(f"sqlite:///{tmp_path}/v.db")
    stack = parse_stack("vigil.yaml", STACK.format(receiver=receiver.url), SECRETS)
    runtime = Runtime(stack, engine, clock=clock)
    await runtime.failures.load()
    app = create_app(runtime, manage_runtime=False)
    caplog.set_level(logging.INFO)
    try:
        runner = CheckRunner(runtime.probes, clock, stack.redactor)
        for spec in runtime.specs:
            await runtime.flow(await runner.run(spec))
        await runtime.writer.flush()
        await runtime.scraper.scrape_once("api")
        while await runtime.outbox.run_once():
            pass
        tokens = {role: await create_token(engine, clock, f"{role}-user", role) for role in Role}
        admin = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as client:
            # A responder pastes secrets where people write free text.
            pasted = f"rotated {SECRETS['CMD_SECRET']} and {SECRETS['API_KEY']}"
            assert (
                await client.post("/api/v1/incidents/1/notes", json={"text": pasted}, headers=admin)
            ).is_success
            silence = {"matchers": ["service=api"], "duration": "1h", "comment": pasted}
            assert (await client.post("/api/v1/silences", json=silence, headers=admin)).is_success
            logging.getLogger("vigil.test").warning("probing %s", stack.model.services["api"].checks["query"])

            answers = await walk_the_api(client, runtime, admin)
            answers.update(await walk_the_dashboard(client, tokens[Role.VIEWER]))
            answers["/metrics"] = (await client.get("/metrics")).text
    finally:
        await runtime.probes.aclose()
        await runtime.scraper.close() if hasattr(runtime.scraper, "close") else None
        for channel in runtime.channels.values():
            await channel.close()
        await runtime.http.aclose()
        await engine.dispose()

    assert len(answers) >= 25
    assert "***" in answers["/api/v1/checks/api.query"], "the target is shown, masked"
    for where, text in answers.items():
        assert not leaks(text), f"{where} shows {leaks(text)}"
    assert receiver.received, "the checks paged the receiver"
    assert not leaks(json.dumps(receiver.received, ensure_ascii=False))
    assert "probing" in caplog.text
    assert not leaks(caplog.text), caplog.text


async def walk_the_api(
    client: httpx.AsyncClient, runtime: Runtime, headers: dict[str, str]
) -> dict[str, str]:
    """Every GET operation of the OpenAPI document, each path parameter filled with every value
    it can take here."""
    document = (await client.get("/openapi.json")).json()
    values = {
        "check_id": [spec.id for spec in runtime.specs],
        "incident_id": [str(i) for i in range(1, 10)],
        "silence_id": ["1"],
        "name": list(runtime.stack.model.services),
        "procedure": [p.id for p in runtime.library.procedures()] or ["no-such-procedure"],
        "run_id": list(runtime.live.runs) or ["no-such-run"],
        "schedule": runtime.oncall.names,
        "job": list(runtime.stack.model.backups) or ["no-such-job"],
    }
    answers: dict[str, str] = {"/openapi.json": json.dumps(document)}
    for template, operations in document["paths"].items():
        if "get" not in operations:
            continue
        urls = [template]
        for param in re.findall(r"{(\w+)}", template):
            urls = [u.replace(f"{{{param}}}", v) for u in urls for v in values[param]]
        for url in urls:
            answer = await client.get(
                url, headers=headers, params={"all": "true"} if "silences" in url else None
            )
            # The runtime is not started here, so the liveness check rightly says 503.
            assert answer.status_code < 500 or url in ("/livez", "/readyz", "/healthz"), (
                f"{url}: {answer.status_code}"
            )
            answers[url] = answer.text
    return answers


async def walk_the_dashboard(client: httpx.AsyncClient, viewer: str) -> dict[str, str]:
    page = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    assert (await client.post("/login", data={"token": viewer, "csrf": csrf.group(1)})).status_code == 303
    paths = ["/", "/services", "/services/api", "/services/db", "/fragments/incidents", "/fragments/services"]
    paths += ["/fragments/quiet", "/fragments/oncall", "/login"]
    paths += [f"{p}/incidents/{i}" for p in ("", "/fragments") for i in range(1, 10)]
    answers = {}
    for path in paths:
        answer = await client.get(path)
        assert answer.status_code in (200, 404), f"{path}: {answer.status_code}"
        answers[f"page {path}"] = answer.text
    client.cookies.clear()
    return answers
