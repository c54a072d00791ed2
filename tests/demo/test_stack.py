"""The demo stack file's on-call part: it validates as a user's file would, names three people
paged only into the demo target's inbox, a daily rotation with a secondary, and a short
escalation policy every severity level starts; its store is the one ``vigil demo`` writes."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vigil.backups.jobs import jobs_of
from vigil.backups.manifest import artefacts
from vigil.config.backups import VerifyHow
from vigil.config.load import Stack, load_stack
from vigil.demo.banner import DemoPlaces, banner, vigil_command
from vigil.demo.first_backup import first_backup
from vigil.demo.stack import (
    DEMO_PEOPLE,
    DEMO_POLICY,
    demo_stack_yaml,
    inbox_url,
    local_redis_answers,
    write_demo_runbook,
)
from vigil.demo.worker import DEMO_BEAT_KEY
from vigil.oncall.service import OnCall
from vigil.probes.heartbeat import HeartbeatCheck
from vigil.probes.redis import RedisCheck
from vigil.probes.statuspage import StatuspageCheck
from vigil.store.backup_runs import BackupRuns
from vigil.store.database import open_database, stack_store_url

TARGET = "http://127.0.0.1:8080"


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    write_demo_runbook(tmp_path)
    (tmp_path / "vigil.yaml").write_text(demo_stack_yaml(TARGET))
    return load_stack(tmp_path / "vigil.yaml")  # what `vigil validate` reads, references included


def test_the_people_are_paged_only_into_the_demo_targets_inbox(stack: Stack) -> None:
    people = stack.model.people
    assert tuple(people) == DEMO_PEOPLE
    assert {name: person.notify for name, person in people.items()} == {
        name: [f"json://127.0.0.1:8080/inbox/{name}"] for name in DEMO_PEOPLE
    }
    assert people["carol"].shown("carol") == "Carol Diaz (team lead)"


@pytest.mark.parametrize(
    ("at", "primary", "secondary"),
    [
        (datetime(2026, 1, 7, 12, 0, tzinfo=UTC), "alice", "bob"),
        (datetime(2026, 1, 8, 8, 59, tzinfo=UTC), "alice", "bob"),
        (datetime(2026, 1, 8, 9, 0, tzinfo=UTC), "bob", "alice"),
    ],
)
def test_alice_and_bob_take_turns_by_the_day_one_primary_the_other_secondary(
    stack: Stack, at: datetime, primary: str, secondary: str
) -> None:
    oncall = OnCall(stack)
    assert (oncall.who("primary", at), oncall.who("secondary", at)) == ([primary], [secondary])


def test_every_level_escalates_primary_secondary_then_the_lead_a_minute_apart(stack: Stack) -> None:
    policy = stack.model.oncall.escalation[DEMO_POLICY]
    assert [(step.notify, step.wait) for step in policy.steps] == [
        (["schedule:primary"], 60.0),
        (["schedule:secondary"], 60.0),
        (["person:carol"], 60.0),
    ]
    assert policy.repeat == 1
    assert {level: stack.model.scheme.escalation(level) for level in ("P1", "P2")} == {
        "P1": DEMO_POLICY,
        "P2": DEMO_POLICY,
    }
    assert stack.model.response_seconds("P1") == 300


def test_the_store_is_the_one_beside_the_stack_file_that_the_demo_writes(
    stack: Stack, tmp_path: Path
) -> None:
    assert stack_store_url(stack.file, stack.model.store.url).endswith(f"{tmp_path}/vigil.db")


@pytest.mark.parametrize(
    ("target", "url"),
    [
        ("http://127.0.0.1:8080", "json://127.0.0.1:8080/inbox/bob"),
        ("https://demo.example:8443/base/", "jsons://demo.example:8443/base/inbox/bob"),
    ],
)
def test_the_inbox_url_follows_the_targets_scheme_and_path(target: str, url: str) -> None:
    assert inbox_url(target, "bob") == url


def test_the_banner_says_how_to_break_watch_the_escalation_and_acknowledge(tmp_path: Path) -> None:
    places = DemoPlaces(TARGET, tmp_path / "vigil.yaml", tmp_path / "r.md", "http://127.0.0.1:8484", "c", "t")
    text = banner(places)
    assert f"inbox        {TARGET}/inbox" in text
    assert '\'{"mode": "fail"}\'' in text
    assert "escalation shows the" in text and "Click Acknowledge on a page in the inbox" in text
    assert f"vigil incident postmortem ID -o - -c {tmp_path}/vigil.yaml" in text


def test_the_command_printed_is_the_one_that_runs_here(tmp_path: Path) -> None:
    elsewhere = tmp_path / "venv" / "bin" / "vigil"
    assert vigil_command(str(elsewhere)) == str(elsewhere)
    assert vigil_command("/usr/bin/python3") == "vigil"


@pytest.mark.parametrize("redis", [False, True])
def test_the_worker_beats_the_vendor_page_is_read_and_a_local_redis_is_watched_when_there(
    tmp_path: Path, redis: bool
) -> None:
    write_demo_runbook(tmp_path)
    text = demo_stack_yaml(TARGET, vigil_url="http://127.0.0.1:8499", redis=redis)
    (tmp_path / "vigil.yaml").write_text(text)
    services = load_stack(tmp_path / "vigil.yaml").model.services
    beat = services["worker"].checks["beat"]
    assert isinstance(beat, HeartbeatCheck)
    assert (beat.heartbeat.every, beat.heartbeat.grace, beat.heartbeat.key) == (10.0, 10.0, DEMO_BEAT_KEY)
    assert "http://127.0.0.1:8499/ping/KEY" in text
    vendor = services["vendor"].checks["status"]
    assert isinstance(vendor, StatuspageCheck)
    assert (vendor.summary_url, vendor.every) == (f"{TARGET}/vendor/api/v2/summary.json", 10.0)
    if redis:
        server = services["cache-redis"].checks["server"]
        assert isinstance(server, RedisCheck)
        assert (server.redis, server.stats) == ("redis://127.0.0.1:6379/0", True)
    else:
        assert "cache-redis" not in services
        assert "No Redis answered on 127.0.0.1:6379" in text


def test_a_local_redis_counts_as_there_only_when_its_port_answers() -> None:
    assert local_redis_answers() is True  # the Redis this machine's tests use
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: refuses connections
        assert local_redis_answers(port=sock.getsockname()[1]) is False


def test_the_demo_backs_up_its_own_store_every_two_minutes_and_proves_it_by_a_restore(
    stack: Stack, tmp_path: Path
) -> None:
    [job] = jobs_of(stack).values()
    assert (job.check_id, job.config.engine, job.config.schedule) == (
        "backups.vigil-db",
        "sqlite",
        "*/2 * * * *",
    )
    assert job.source == str(tmp_path / "vigil.db")  # the store `vigil demo` writes
    assert job.destination == tmp_path / "backups" / "vigil-db"
    assert job.config.verify.how is VerifyHow.RESTORE and job.config.rpo == 300


async def test_the_demo_takes_a_first_backup_only_when_it_has_no_verified_one(
    stack: Stack, tmp_path: Path
) -> None:
    engine = await open_database(f"sqlite:///{tmp_path}/vigil.db")  # the store, with its tables
    try:
        await first_backup(stack, engine)
        [job] = jobs_of(stack).values()
        [(path, manifest)] = artefacts(job.destination)
        assert manifest.good and manifest.tables["backup_runs"] == 0  # taken before its own run was recorded
        await first_backup(stack, engine)  # a demo started again keeps what it has
        assert [p for p, _ in artefacts(job.destination)] == [path]
        assert [r["action"] for r in await BackupRuns(engine).recent()] == [
            "verify",
            "backup",
        ]  # newest first
    finally:
        await engine.dispose()
