"""``vigil oncall`` as a user runs it: real processes over a stack file in a temp folder."""

from __future__ import annotations

import json
from pathlib import Path

import icalendar
import pytest

from tests.cli.test_check import vigil
from tests.cli.test_store_discovery import vigil as vigil_in
from tests.oncall.stacks import ISSUE_EXAMPLE, serving


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(ISSUE_EXAMPLE)
    return path


def test_the_issue_s_example_prints_erin(stack: Path) -> None:
    done = vigil("oncall", "who", "primary", "--at", "2026-02-10T12:00:00Z", "-c", str(stack))
    assert (done.returncode, done.stdout, done.stderr) == (0, "erin\n", "")


def test_json_says_until_when_and_who_is_next(stack: Path) -> None:
    done = vigil(
        "oncall",
        "who",
        "primary",
        "--at",
        "2026-02-10T12:00:00Z",
        "--json",
        "-c",
        str(stack),
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["on_call"] == [{"name": "erin", "display_name": "erin"}]
    assert shown["until"] == "2026-02-11T00:00:00Z"
    assert shown["next"]["people"] == ["bob"]


def test_every_schedule_in_a_table_with_the_stack_file_from_vigil_config(stack: Path, tmp_path: Path) -> None:
    done = vigil("oncall", "who", "--at", "2026-03-27T12:00:00Z", env={"VIGIL_CONFIG": str(stack)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["schedule", "on", "call", "until", "next"]
    assert lines[1].split() == ["primary", "bob", "2026-03-30", "09:00", "BST", "alice"]


def test_from_a_subfolder_the_stack_file_above_is_found(stack: Path, tmp_path: Path) -> None:
    scripts = tmp_path / "deploy" / "scripts"
    scripts.mkdir(parents=True)
    done = vigil_in("oncall", "who", "primary", "--at", "2026-02-10T12:00:00Z", cwd=scripts)
    assert (done.returncode, done.stdout, done.stderr) == (0, "erin\n", "")


def test_with_no_stack_file_found_it_says_where_it_looked(tmp_path: Path) -> None:
    # tmp_path has no vigil.yaml, nor (in a test run) any folder above it.
    done = vigil_in("oncall", "who", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"no stack file: looked for vigil.yaml in {tmp_path} and every folder above it; "
        "pass -c FILE (or set VIGIL_CONFIG)"
    ]


def test_the_next_handoffs_are_listed_in_the_schedule_s_zone(stack: Path) -> None:
    done = vigil(
        "oncall",
        "next",
        "primary",
        "--count",
        "2",
        "--at",
        "2026-03-25T00:00Z",
        "-c",
        str(stack),
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    assert rows == [
        ["primary", "2026-03-30", "09:00", "BST", "2026-04-06", "09:00", "BST", "alice"],
        ["primary", "2026-04-06", "09:00", "BST", "2026-04-13", "09:00", "BST", "bob"],
    ]
    shown = json.loads(
        vigil(
            "oncall",
            "next",
            "--json",
            "-n",
            "1",
            "--at",
            "2026-03-25T00:00Z",
            "-c",
            str(stack),
        ).stdout
    )
    assert shown == {
        "primary": [{"start": "2026-03-30T08:00:00Z", "end": "2026-04-06T08:00:00Z", "people": ["alice"]}]
    }


def test_the_feed_printed_is_a_calendar(stack: Path) -> None:
    done = vigil("oncall", "ical", "primary", "-c", str(stack))
    assert done.returncode == 0, done.stderr
    events = list(icalendar.Calendar.from_ical(done.stdout).walk("VEVENT"))
    assert len(events) >= 12
    assert all(str(e["SUMMARY"]).startswith("On call (primary): ") for e in events)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["who", "primary", "--at", "2025-06-01T00:00Z"],
            1,
            "nobody is on call on primary at 2025-06-01T00:00:00+00:00",
        ),
        (
            ["who", "primary", "--at", "tuesday"],
            2,
            "'tuesday' is not a time; write it like 2026-02-10T12:00:00Z",
        ),
        (["who", "secondary"], 1, "no schedule 'secondary'; the schedules are: primary"),
        (["ical", "secondary"], 1, "no schedule 'secondary'; the schedules are: primary"),
        (["next", "--count", "0"], 2, "Invalid value for '--count'"),
    ],
)
def test_a_mistake_or_a_gap_is_one_line_and_an_exit_code(
    stack: Path, args: list[str], code: int, message: str
) -> None:
    done = vigil("oncall", *args, "-c", str(stack))
    assert done.returncode == code
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_stack_file_without_schedules_or_with_faults_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("services: {}\n")
    done = vigil("oncall", "who", "-c", str(empty))
    assert (done.returncode, done.stderr.strip()) == (
        1,
        f"{empty} has no on-call schedules; add oncall: schedules: to it",
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text(ISSUE_EXAMPLE.replace("members: [alice, bob]", "members: [alice, bobby]"))
    done = vigil("oncall", "who", "-c", str(broken))
    assert done.returncode == 2
    assert (
        "broken.yaml:11:24: oncall.schedules.primary.members[1]: unknown person bobby; did you mean 'bob'?"
        in done.stderr
    )


def test_validate_names_every_on_call_fault_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "rota.ics").write_text("not a calendar\n")
    path = tmp_path / "vigil.yaml"
    path.write_text(
        ISSUE_EXAMPLE.replace("who: erin", "who: erinn")
        .replace("wait: 15m", "wait: 0s")
        .replace("  escalation:", "    imported: {ical: rota.ics}\n  escalation:")
    )
    done = vigil("validate", "-c", str(path))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{path}:13:17: oncall.schedules.primary.overrides[0].who: unknown person erinn; did you mean 'erin'?",
        f"{path}:14:22: oncall.schedules.imported.ical: rota.ics is not an iCalendar file: it does not begin with BEGIN:VCALENDAR",
        f"{path}:20:15: oncall.escalation.default.repeat: the policy repeats 1 time with no wait: "
        "give a step a wait (e.g. wait: 15m) so someone can acknowledge before it pages again",
        f"3 problems in {path}",
    ]


def test_a_schedule_reads_its_shifts_from_a_calendar_url(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    with serving() as server:
        path.write_text(
            "people:\n  bob: {notify: ['mailto://bob@example.org']}\n"
            f"oncall:\n  schedules:\n    imported: {{ical: 'http://127.0.0.1:{server.server_address[1]}/rota.ics'}}\n"
        )
        done = vigil("oncall", "who", "imported", "--at", "2026-03-05T12:00:00Z", "-c", str(path))
    assert (done.returncode, done.stdout) == (0, "bob\n"), done.stderr
