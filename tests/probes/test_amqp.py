"""The ``amqp`` probe against the local RabbitMQ (guest/guest): queues the test declares under
names of its own, fills, consumes and deletes; a closed port, a port that speaks another
protocol and one that never answers."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiormq
import pytest
from pydantic import ValidationError

from tests.probes import conftest
from vigil.config.secrets import Redactor
from vigil.engine.runner import CheckRunner, CheckSpec, ProbeSet
from vigil.probes.amqp import KIND
from vigil.probes.base import Observation

BROKER = "amqp://guest:guest@127.0.0.1:5672/"
SECRET = "Wr0ng-Secret-pw"

MakeQueue = Callable[..., Awaitable[str]]


async def observe(**fields: Any) -> Observation:
    fields.setdefault("amqp", BROKER)
    return await conftest.observe(KIND, **fields)


@pytest.fixture
async def channel() -> AsyncIterator[aiormq.abc.AbstractChannel]:
    connection = await aiormq.connect(BROKER)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


@pytest.fixture
async def make_queue(channel: aiormq.abc.AbstractChannel) -> AsyncIterator[MakeQueue]:
    """Declares a queue of a name no other test uses, holding ``messages``; deleted afterwards."""
    made: list[str] = []

    async def make(messages: int = 0) -> str:
        name = f"vigil-test-{secrets.token_hex(4)}"
        await channel.queue_declare(name, auto_delete=False)
        made.append(name)
        for _ in range(messages):
            await channel.basic_publish(b"job", routing_key=name)
        return name

    yield make
    for name in made:
        await channel.queue_delete(name)


async def test_a_reachable_broker_passes_with_the_connect_time() -> None:
    observation = await observe()

    assert observation.ok, observation.reason
    assert set(observation.values) == {"connect_ms"}
    assert observation.values["connect_ms"] > 0


async def test_queues_within_bounds_pass_and_their_counts_are_kept(
    make_queue: MakeQueue, channel: aiormq.abc.AbstractChannel
) -> None:
    busy, idle = await make_queue(messages=3), await make_queue()
    await channel.basic_consume(idle, lambda message: None)

    observation = await observe(queues=[busy, idle], expect={"messages_max": 3})

    assert observation.ok, observation.reason
    assert observation.values[f"queue_messages.{busy}"] == 3
    assert observation.values[f"queue_consumers.{busy}"] == 0
    assert observation.values[f"queue_messages.{idle}"] == 0
    assert observation.values[f"queue_consumers.{idle}"] == 1


async def test_a_backed_up_queue_without_consumers_fails_naming_both_in_one_line(
    make_queue: MakeQueue,
) -> None:
    name = await make_queue(messages=4)

    observation = await observe(queues=[name], expect={"messages_max": 2, "consumers_min": 1})

    assert observation.reason == (
        f"queue {name} holds 4 messages, expected at most 2; queue {name} has 0 consumers, expected at least 1"
    )
    assert observation.values[f"queue_messages.{name}"] == 4


async def test_a_queue_that_does_not_exist_fails_naming_it_and_is_not_created(
    make_queue: MakeQueue, channel: aiormq.abc.AbstractChannel
) -> None:
    present = await make_queue(messages=1)
    absent = f"vigil-test-absent-{secrets.token_hex(4)}"

    observation = await observe(queues=[absent, present])

    assert observation.reason == f"queue {absent} does not exist"
    assert observation.values[f"queue_messages.{present}"] == 1  # the next queue is still read
    probe = await channel.connection.channel()  # a refused declare closes its channel
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
        await probe.queue_declare(absent, passive=True)


async def test_a_wrong_password_fails_without_showing_it() -> None:
    observation = await observe(amqp=f"amqp://guest:{SECRET}@127.0.0.1:5672/")

    assert observation.reason == "authentication failed for user 'guest' (127.0.0.1:5672)"


async def test_a_virtual_host_the_broker_does_not_have_fails_naming_it() -> None:
    observation = await observe(amqp="amqp://guest:guest@127.0.0.1:5672/vigil-nope")

    assert observation.reason is not None
    assert observation.reason.startswith("virtual host 'vigil-nope' refused (127.0.0.1:5672): check that it")


async def test_a_closed_port_fails_as_connection_refused(closed_port: int) -> None:
    observation = await observe(amqp=f"amqp://guest:{SECRET}@127.0.0.1:{closed_port}/", queues=["jobs"])

    assert observation.reason == f"connection refused (127.0.0.1:{closed_port})"


async def test_a_port_that_speaks_another_protocol_says_so() -> None:
    observation = await observe(amqp="amqp://guest:guest@127.0.0.1:5432/")  # the local PostgreSQL

    assert observation.reason == (
        "no AMQP answer from 127.0.0.1:5432: the server closed the connection; is it a RabbitMQ port?"
    )


async def test_a_broker_that_never_answers_times_out_within_the_check_timeout(
    runner: CheckRunner, silent_port: int
) -> None:
    check = KIND.config.model_validate(
        {"amqp": f"amqp://guest:guest@127.0.0.1:{silent_port}/", "timeout": "300ms"}
    )

    result = await runner.run(CheckSpec("queues", "amqp", check))

    assert result.reason == "timed out after 300ms"
    assert result.duration_ms < 1000


async def test_a_password_from_the_environment_never_reaches_the_result() -> None:
    url = f"amqp://guest:{SECRET}@127.0.0.1:5672/"
    runner = CheckRunner(ProbeSet(), redactor=Redactor({url}))

    result = await runner.run(CheckSpec("queues", "amqp", KIND.config.model_validate({"amqp": url})))

    assert not result.ok
    assert SECRET not in str(result.as_dict())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"amqp": f"http://guest:{SECRET}@127.0.0.1/"},
            "expected a URL starting with amqp:// or amqps://, e.g. amqp://guest:guest@127.0.0.1:5672/; got scheme 'http'",
        ),
        ({"amqp": BROKER, "expect": {"messages_max": 10}}, "expect bounds the queues listed in queues"),
        ({"amqp": BROKER, "queues": ["jobs", "jobs"]}, "queue 'jobs' is listed twice"),
        ({"amqp": BROKER, "queues": [""]}, "at least 1 character"),
        ({"amqp": BROKER, "expect": {"consumers_min": -1}}, "greater than or equal to 0"),
    ],
)
def test_a_check_that_cannot_be_run_is_a_config_error_without_the_password(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        KIND.config.model_validate(fields)

    assert all(SECRET not in error["msg"] for error in caught.value.errors())  # what `vigil validate` shows


def test_reading_a_stack_file_does_not_import_the_broker_clients() -> None:
    code = (
        "import sys, vigil.probes.amqp, vigil.probes.celery; "
        "print(sorted(m for m in ('aiormq', 'celery', 'kombu') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert loaded.stdout.strip() == "[]"
