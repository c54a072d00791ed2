"""Runbooks the tests write, each a way real ones are put together: a Mermaid graph, a table and
nothing else, a box diagram, a page that is no runbook at all. Each draft validates as written."""

from __future__ import annotations

from pathlib import Path

from tests.runbooks.importer.drafting import drafted
from vigil.incidents.severity import Severity
from vigil.probes.http import HttpCheck
from vigil.probes.postgres import PostgresCheck

MERMAID = """\
# Shop runbook

## Architecture

```mermaid
graph TD
  U((Users)) --> W[Web app]
  W -->|REST| A[API server]
  A --> DB[(PostgreSQL)]
  A -.-> C[(Redis cache)]
  W & A --> S[Search]
```

## Health

```bash
# Check the API
curl -H "Authorization: Bearer <TOKEN>" http://localhost:8080/healthz

# Expected:
{"status": "ok", "db": "ok", "build": "abc123"}
```

## Maintenance

Weekly maintenance window: every Tuesday 22:00-23:30 CET.

## Alerts

| Alert | Threshold | Severity |
|---|---|---|
| Errors | Error rate > 2% for 10m | P2 |
| Disk | Disk usage > 85% | SEV3 |
| Cosmic rays | Bit flips > 3 | SEV1 |
"""


def test_a_mermaid_graph_gives_services_and_what_each_depends_on(tmp_path: Path) -> None:
    model, text = drafted(tmp_path, MERMAID)
    assert model.services["web-app"].depends_on == ["api-server", "search"]
    assert model.services["api-server"].depends_on == ["postgres", "redis", "search"]
    assert "users" not in model.services  # the traffic that comes in is no service
    check = model.services["postgres"].checks["health"]
    assert isinstance(check, PostgresCheck)
    assert check.postgres == "postgresql://postgres@127.0.0.1:5432/postgres"
    assert "${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}" in text


def test_a_curl_example_becomes_a_check_with_its_token_from_the_environment(tmp_path: Path) -> None:
    model, text = drafted(tmp_path, MERMAID)
    check = model.services["app"].checks["healthz"]
    assert isinstance(check, HttpCheck)
    assert check.http == "http://localhost:8080/healthz"
    # The answer's health fields are judged; its build id changes with every deploy and is not.
    assert check.expect.json_ == {"status": "ok", "db": "ok"}
    assert "Authorization: 'Bearer ${TOKEN:-}'" in text


def test_a_table_of_alerts_and_a_prose_window_are_drafted_and_what_has_no_metric_is_said(
    tmp_path: Path,
) -> None:
    model, text = drafted(tmp_path, MERMAID)
    errors = next(r for r in model.alerts if r.name == "HighErrorRate")
    assert errors.expr.endswith("> 0.02") and (errors.for_, errors.severity) == (600, Severity.P2)
    disk = next(r for r in model.alerts if r.name == "DiskUsageHigh")
    assert disk.expr.endswith("> 0.85") and disk.severity == Severity.P3
    assert "runbook.md:34: Alerts not drafted: Bit flips > 3: no conventional metric says this" in text
    (window,) = model.maintenance.windows
    assert (window.cron, window.duration, window.timezone) == ("0 22 * * TUE", 5400, "Europe/Berlin")


TABLES = """\
| Service | Depends on | URL |
|---|---|---|
| web | api | https://web.example.com |
| api | db, cache | https://api.example.com |
| worker | cache | |

| Severity | Response time | Who |
|---|---|---|
| SEV1 | 10 minutes | Everyone |
| SEV2 | 2 hours | Team lead |
"""


def test_a_runbook_of_tables_alone_gives_services_urls_dependencies_and_severities(tmp_path: Path) -> None:
    model, text = drafted(tmp_path, TABLES)
    assert model.services["api"].depends_on == ["db", "cache"]
    assert model.services["worker"].depends_on == ["cache"]
    assert model.services["cache"].checks == {}
    home = model.services["web"].checks["home"]
    assert isinstance(home, HttpCheck) and home.http == "https://web.example.com"
    assert {k: v.response for k, v in model.severities.items()} == {Severity.P1: 600, Severity.P2: 7200}
    assert "runbook.md:9: Escalation: SEV1 (P1): escalate to Everyone — not yet expressible" in text


BOXES = """\
# Ops

## Architecture

```
+---------+        +----------+
|  web    | -----> |  api     |
+---------+        +----------+
                        |
                        v
                   +----------+
                   |  MySQL   |
                   +----------+
```

```bash
export DATABASE_URL=mysql://root:hunter2@db.internal:3306/shop
mysql $DATABASE_URL -e "SELECT 1"
```
"""


def test_an_ascii_box_diagram_gives_dependencies_and_a_datastore_url_never_its_example(
    tmp_path: Path,
) -> None:
    model, text = drafted(tmp_path, BOXES)
    assert model.services["web"].depends_on == ["api"]
    assert model.services["api"].depends_on == ["mysql"]
    assert "mysql: ${DATABASE_URL:-mysql://root@127.0.0.1:3306/mysql}" in text
    assert "hunter2" not in text and "db.internal" not in text
    assert model.env == {"DATABASE_URL": "mysql://root@127.0.0.1:3306/mysql"}


def test_a_file_that_is_no_runbook_gives_a_draft_that_lists_it_and_nothing_else(tmp_path: Path) -> None:
    model, text = drafted(tmp_path, "just some notes, $HOME and ${FOO} and {{ x }}\n", name="notes.txt")
    assert model.runbooks == ["notes.txt"]
    assert model.services == {} and model.alerts == []
    assert "services:" not in text


def test_the_runbook_s_dollars_in_free_text_stay_text(tmp_path: Path) -> None:
    markdown = "| Service | Purpose |\n|---|---|\n| api | reads ${SECRET_THING} and $HOME |\n"
    model, _ = drafted(tmp_path, markdown)
    assert model.services["api"].description == "reads ${SECRET_THING} and $HOME"


def test_a_runbook_whose_step_attributes_vigil_cannot_read_is_named_but_not_listed(tmp_path: Path) -> None:
    markdown = "# Ops\n\n## Restart\n\n```bash {timeout=forever}\nsystemctl restart api\n```\n"
    model, text = drafted(tmp_path, markdown)
    assert model.runbooks == []
    assert "# runbooks: not listed, runbook.md:5:" in text


def test_a_runbook_in_another_folder_is_listed_relative_to_the_stack_file(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    model, _ = drafted(
        tmp_path / "docs", "# Ops\n\n## Issue: API down\n\n```bash\ncurl -f http://127.0.0.1:9/health\n```\n"
    )
    assert model.runbooks == ["runbook.md"]
    check = model.services["app"].checks["health"]
    assert check.runbook == "runbook.md#issue-api-down"


def test_past_the_notes_a_draft_keeps_it_says_how_many_more_there_were(tmp_path: Path) -> None:
    markdown = "# Ops\n\n## Weekly\n\n" + "".join(f"- [ ] task {i}\n" for i in range(2_100))
    _, text = drafted(tmp_path, markdown)
    assert "# runbook.md:2004: [ ] task 1999" in text
    assert "task 2000" not in text
    assert "… and 100 more notes and checklist items of runbook.md, past the 2,000 kept here." in text
