"""Loading stack files: the documented shapes load; every fault is named at its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vigil.config.load import load_stack, parse_stack
from vigil.errors import ConfigError
from vigil.probes.registry import KINDS

EXAMPLES = Path(__file__).parents[2] / "examples"


def faults_of(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack("vigil.yaml", textwrap.dedent(text), environ or {})
    return [str(f) for f in caught.value.faults]


def test_the_example_stack_file_loads_with_every_check_addressed_by_service_and_name() -> None:
    stack = load_stack(EXAMPLES / "local.yaml", environ={})
    assert [s.id for s in stack.specs()] == ["api.health", "postgres.ping", "cache.ping", "host.disk"]
    health = stack.model.services["api"].checks["health"]
    assert (health.kind, health.every, health.timeout, health.retries) == ("http", 30.0, 5.0, 1)
    assert stack.model.services["api"].depends_on == ["postgres", "cache"]


def test_environment_values_fill_placeholders_and_become_secrets() -> None:
    text = "services:\n  db:\n    checks:\n      ping:\n        postgres: ${DATABASE_URL}\n"
    stack = parse_stack("f.yaml", text, {"DATABASE_URL": "postgresql://app:hunter22@db:5432/app"})
    assert stack.model.services["db"].checks["ping"].target == "postgresql://app:hunter22@db:5432/app"
    shown = stack.redactor("could not reach postgresql://app:hunter22@db:5432/app (hunter22)")
    assert "hunter22" not in shown
    assert "***" in shown


def test_defaults_apply_when_the_variable_is_unset_and_are_not_secret() -> None:
    text = "services:\n  db:\n    checks:\n      ping:\n        postgres: ${DB:-postgresql://postgres@127.0.0.1/postgres}\n"
    stack = parse_stack("f.yaml", text, {})
    assert stack.model.services["db"].checks["ping"].target == "postgresql://postgres@127.0.0.1/postgres"
    assert stack.redactor.secrets == frozenset()


def test_a_dollar_can_be_written_twice_to_mean_itself() -> None:
    text = "services:\n  s:\n    checks:\n      c:\n        command: echo $$HOME\n"
    assert parse_stack("f.yaml", text, {}).model.services["s"].checks["c"].target == "echo $HOME"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            services:
              api:
                checks:
                  health:
                    http: http://x/health
                    expect: {sttus: 200}
            """,
            "vigil.yaml:7:18: services.api.checks.health.expect.sttus: unknown key 'sttus'; did you mean 'status'?",
        ),
        (
            """
            services:
              api:
                checks:
                  health:
                    http: http://x/health
                    retires: 2
            """,
            "vigil.yaml:7:9: services.api.checks.health.retires: unknown key 'retires'; did you mean 'retries'?",
        ),
        (
            """
            services:
              api:
                checks:
                  health:
                    http: http://x/health
                    every: 3x
            """,
            "vigil.yaml:7:16: services.api.checks.health.every: '3x' is not a duration; "
            "write it like 500ms, 30s, 5m, 1h or 1h30m",
        ),
        (
            """
            services:
              api:
                checks:
                  health: {every: 10s}
            """,
            "vigil.yaml:5:7: services.api.checks.health: a check needs exactly one probe key: "
            + ", ".join(KINDS),
        ),
        (
            """
            alerts:
              - name: PostgresConnectionsHigh
                expr: vigil_postgres_connection_used_ratio > 0.8
            """,
            "vigil.yaml:4:11: alerts[0].expr: unknown metric 'vigil_postgres_connection_used_ratio'; "
            "did you mean 'vigil_postgres_connections_used_ratio'?",
        ),
        (
            """
            alerts:
              - name: RedisOdd
                expr: vigil_redis_frobs{list="vigil_redis_quoted_is_fine"} > 1
            """,
            "vigil.yaml:4:11: alerts[0].expr: unknown metric 'vigil_redis_frobs' "
            "(the README lists the metrics of each kind)",
        ),
        (
            """
            services:
              docs:
                checks:
                  store:
                    mongo: mongodb://127.0.0.1
                    every: 1m
            """,
            "vigil.yaml:6:9: services.docs.checks.store.mongo: unknown probe kind 'mongo'; known: "
            + ", ".join(sorted(KINDS))
            + " (did you mean 'mongodb'?)",
        ),
        (
            """
            services:
              db:
                checks:
                  size: {query: "SELECT 1", frob: 1}
            """,
            # A field some kind has (query) is no probe kind; the key no kind has is.
            "vigil.yaml:5:33: services.db.checks.size.frob: unknown probe kind 'frob'; known: "
            + ", ".join(sorted(KINDS)),
        ),
        (
            """
            services:
              db:
                checks:
                  size: {query: "SELECT 1", stats: true}
            """,
            "vigil.yaml:5:7: services.db.checks.size: a check needs exactly one probe key: "
            + ", ".join(KINDS),
        ),
        (
            """
            services:
              api:
                checks:
                  both: {http: http://x, tcp: "x:1"}
            """,
            "vigil.yaml:5:7: services.api.checks.both: a check has one probe key, found 2: http, tcp",
        ),
        (
            """
            services:
              api:
                depends_on: [postgress]
              postgres: {}
            """,
            "vigil.yaml:4:18: services.api.depends_on[0]: unknown service 'postgress'; did you mean 'postgres'?",
        ),
        (
            """
            services:
              a: {depends_on: [b]}
              b: {depends_on: [a]}
            """,
            "vigil.yaml:3:19: services.a.depends_on: dependency cycle: a -> b -> a",
        ),
        (
            """
            services:
              host:
                checks:
                  disk: {system: diks}
            """,
            "vigil.yaml:5:22: services.host.checks.disk.system: must be 'disk', 'memory' or 'cpu'",
        ),
        (
            """
            services:
              db:
                checks:
                  ping: {postgres: "${NOT_SET}"}
            """,
            "vigil.yaml:5:24: services.db.checks.ping.postgres: environment variable NOT_SET is not set "
            "(set it, or give a default: ${NOT_SET:-value})",
        ),
        (
            """
            services:
              api: {}
              api: {}
            """,
            "vigil.yaml:4:3: services.api: duplicate key 'api' (first defined on line 3)",
        ),
        (
            """
            services:
              api:
                checks:
                  health:
                    http: http://x
                    retries: -1
            """,
            "vigil.yaml:7:18: services.api.checks.health.retries: must be greater than or equal to 0",
        ),
    ],
)
def test_each_fault_is_named_at_its_line_and_column(text: str, expected: str) -> None:
    assert expected in faults_of(text)


def test_every_fault_of_a_file_is_reported_at_once_in_file_order() -> None:
    faults = faults_of(
        """
        services:
          api:
            depends_on: [nope]
            checks:
              health:
                http: http://x
                every: soon
          cache:
            checks:
              ping: {redis: "redis://x", colour: red}
        """
    )
    assert [f.split(":")[1] for f in faults] == ["4", "8", "11"]


def test_broken_yaml_is_one_fault_at_its_line() -> None:
    faults = faults_of("services:\n  api: [\n")
    assert len(faults) == 1
    assert faults[0].startswith("vigil.yaml:3:1: invalid YAML:")


def test_a_missing_file_is_a_config_error_without_a_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_stack("/nonexistent/vigil.yaml")
    assert (
        str(caught.value) == "/nonexistent/vigil.yaml: cannot read the stack file: No such file or directory"
    )


def test_a_value_from_the_environment_never_appears_in_a_fault() -> None:
    faults = faults_of(
        """
        services:
          host:
            checks:
              disk: {system: "${SECRET_KIND}"}
        """,
        {"SECRET_KIND": "topsecretvalue"},
    )
    assert faults
    assert not any("topsecretvalue" in f for f in faults)


def test_a_rule_over_documented_metrics_and_other_vigil_names_is_accepted() -> None:
    text = """
    alerts:
      - name: Busy
        expr: vigil_postgres_connections_used_ratio > 0.8 or vigil_redis_list_length{list="jobs"} > 100
      - name: Down
        expr: vigil_check_up == 0 or vigil_checks_run > 0 or vigil_jobs_done_total > 1
    """
    assert len(parse_stack("vigil.yaml", textwrap.dedent(text), {}).model.alerts) == 2


def test_two_heartbeats_with_one_ping_key_are_a_fault_at_the_second_naming_the_first() -> None:
    key = "k" * 24
    text = f"""
        services:
          worker:
            checks:
              beat: {{heartbeat: {{every: 1m, key: "{key}"}}}}
              other: {{heartbeat: {{every: 1m}}}}
          backup:
            checks:
              nightly:
                heartbeat:
                  every: 1d
                  key: "${{BACKUP_KEY}}"
        """
    faults = faults_of(text, {"BACKUP_KEY": key})
    assert faults == [
        "vigil.yaml:12:16: services.backup.checks.nightly.heartbeat.key: has the same ping key as "
        "worker.beat (line 5); give each its own key"
    ]
    assert all(key not in fault for fault in faults)
    assert parse_stack("vigil.yaml", textwrap.dedent(text), {"BACKUP_KEY": "b" * 24}).specs()
