"""The stack file's ``backups:`` as ``vigil validate`` reads it: a job of an unknown engine is that
one fault, in one line, not also the keys some other engine would have needed."""

from __future__ import annotations

import pytest

from tests.config.test_load import faults_of

KNOWN = "known: mariadb, mongodb, postgres, qdrant, redis, sqlite, heartbeat"


@pytest.mark.parametrize(
    ("job", "fault"),
    [
        (
            "{engine: postgress}",
            f"vigil.yaml:3:19: backups.appdb.engine: unknown backup engine 'postgress'; {KNOWN} (did you mean 'postgres'?)",
        ),
        (
            "{engine: heartbeet, rpo: 1h}",
            f"vigil.yaml:3:19: backups.appdb.engine: unknown backup engine 'heartbeet'; {KNOWN} (did you mean 'heartbeat'?)",
        ),
        (
            '{engine: oracle, source: "db", schedule: nightly, destination: b, keep: {}, verify: never}',
            f"vigil.yaml:3:19: backups.appdb.engine: unknown backup engine 'oracle'; {KNOWN}",
        ),
    ],
)
def test_a_job_of_an_unknown_engine_is_one_fault_naming_the_known_ones(job: str, fault: str) -> None:
    assert faults_of(f"\nbackups:\n  appdb: {job}\n") == [fault]


def test_a_known_engine_still_names_every_key_its_job_lacks() -> None:
    faults = faults_of("\nbackups:\n  appdb: {engine: postgres}\n")
    assert [f.split(": ", 1)[1] for f in faults] == [
        f"backups.appdb.{key}: missing required key {key!r}"
        for key in ("source", "schedule", "destination", "keep")
    ]


def test_a_job_without_an_engine_is_told_it_needs_one() -> None:
    faults = faults_of("\nbackups:\n  appdb: {source: x.db}\n")
    assert "vigil.yaml:3:3: backups.appdb.engine: missing required key 'engine'" in faults
