"""Schemathesis against a live ``vigil up`` with an admin token: every operation of the OpenAPI
document, with data its schema allows and data it does not, answers no 5xx, only statuses and
media types the document declares, and bodies that match its schemas.

Bounded in time: a few examples per operation (``EXAMPLES``), about a minute in all.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server.conftest import VIGIL, VigilProcess

EXAMPLES = 15
# A failing check opens incident 1, so ids that exist are tried too, not only 404s; a schedule
# gives the on-call reads and its calendar something to answer.
STACK = """
services:
  api:
    checks:
      health: {tcp: "127.0.0.1:9", every: 1s, alert: {after: 1, severity: P2}}
people:
  alice: {notify: ["json://127.0.0.1:9/alice"]}
oncall:
  schedules:
    primary: {rotation: {every: 1d, start: 2026-01-01}, members: [alice]}
"""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Not ``negative_data_rejection``: it counts a request as invalid for an unknown query parameter
# (the API ignores those, as most do) or for a missing Authorization header that every request
# here carries; invalid values, bodies and paths are still sent, and must answer a declared 4xx.


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VigilProcess, str]]:
    work = tmp_path_factory.mktemp("schemathesis")
    stack = work / "vigil.yaml"
    stack.write_text(STACK)
    process = VigilProcess(stack, f"sqlite:///{work}/vigil.db")
    process.start()  # first: `vigil token create` opens the store `vigil up` made, never makes one
    try:
        made = subprocess.run(
            [VIGIL, "token", "create", "--role", "admin", "--name", "fuzz", "--db", process.db, "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        yield process, str(json.loads(made.stdout)["token"])
    finally:
        process.kill()


@pytest.fixture(scope="module")
def api(vigil: tuple[VigilProcess, str]) -> schemathesis.BaseSchema:
    process, _token = vigil
    return schemathesis.openapi.from_url(f"{process.url}/openapi.json")


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(GenerationMode))
def test_every_operation_answers_as_its_document_says(
    api: schemathesis.BaseSchema, vigil: tuple[VigilProcess, str], mode: GenerationMode
) -> None:
    # Each operation on its own (schemathesis' pytest loader needs a pytest older than ours),
    # every failure gathered, so one run names them all.
    _process, token = vigil
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=10)

        try:
            run()
        except Unsatisfiable:
            pass  # nothing it takes can be invalid: an operation without parameters, a str path
        except Exception as err:
            failures.append(f"{operation.label}: {str(err).strip()[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_the_log_has_no_traceback(vigil: tuple[VigilProcess, str]) -> None:
    process, _token = vigil
    assert "Traceback" not in Path(process.log).read_text()
