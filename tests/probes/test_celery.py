"""The ``celery`` probe against real Celery workers (``celery worker --pool=solo`` processes of a
tiny app written for the test) on the local Redis and RabbitMQ.

Each Redis broker URL here uses a database of its own, so its workers' control channel is
theirs alone; queues have names no other test uses and are emptied or deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiormq
import pytest
import redis.asyncio
from celery import Celery
from pydantic import ValidationError

from tests.probes import conftest
from vigil.config.durations import format_duration
from vigil.config.secrets import Redactor
from vigil.engine.runner import CheckRunner, CheckSpec, ProbeSet
from vigil.probes.base import Observation
from vigil.probes.celery import KIND, CeleryProbe

REDIS_BROKER = "redis://127.0.0.1:6379/13"
STOPPABLE_BROKER = "redis://127.0.0.1:6379/14"  # only the stopped-worker test's worker listens here
AMQP_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
SECRET = "Wr0ng-Secret-pw"
APP = """
import os
from celery import Celery

app = Celery("vigil_tiny", broker=os.environ["VIGIL_TEST_BROKER"])


@app.task(name="vigil_tiny.add")
def add(x, y):
    return x + y
"""


def queue_name() -> str:
    return f"vigil-test-{secrets.token_hex(4)}"


class Worker:
    """A ``celery worker`` process of the tiny app, consuming one queue of its own."""

    def __init__(self, app_dir: Path, broker: str) -> None:
        self.app_dir, self.broker = app_dir, broker
        self.name = f"vigil-{secrets.token_hex(4)}"
        self.queue = queue_name()
        self.log = app_dir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        args = [sys.executable, "-m", "celery", "-A", "vigil_tiny_app", "worker", "--pool=solo"]
        args += ["--concurrency=1", "-n", f"{self.name}@%h", "-Q", self.queue, "-l", "info"]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        env = {**os.environ, "VIGIL_TEST_BROKER": self.broker, "PYTHONPATH": str(self.app_dir)}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(args, cwd=self.app_dir, env=env, stdout=log, stderr=log)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while " ready." not in self.log.read_text(errors="replace"):  # the worker's own "name@host ready."
            if self.process is None or self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"celery worker did not start:\n{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill the worker, as a crash or the OOM killer would (a warm shutdown takes seconds)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("celery-app")
    (directory / "vigil_tiny_app.py").write_text(APP)
    return directory


@dataclass
class Workers:
    redis: Worker
    amqp: Worker
    stoppable: Worker  # alone on its broker; the one test that stops it is the only one to use it


@pytest.fixture(scope="module")
def workers(app_dir: Path) -> Iterator[Workers]:
    """The module's workers, started side by side (each takes seconds to get ready)."""
    started = Workers(
        Worker(app_dir, REDIS_BROKER), Worker(app_dir, AMQP_BROKER), Worker(app_dir, STOPPABLE_BROKER)
    )
    every = (started.redis, started.amqp, started.stoppable)
    try:
        for worker in every:
            worker.launch()
        for worker in every:
            worker.wait_ready()
        yield started
    finally:
        for worker in every:
            worker.stop()
        _delete_amqp_queues(started.amqp.queue)
        for worker in (started.redis, started.stoppable):
            asyncio.run(_delete_redis_keys(worker.broker, worker.queue))


@pytest.fixture
def redis_worker(workers: Workers) -> Worker:
    return workers.redis


@pytest.fixture
def amqp_worker(workers: Workers) -> Worker:
    return workers.amqp


@pytest.fixture
async def redis_queue() -> AsyncIterator[str]:
    """A queue name on the Redis broker that no worker consumes; its lists are deleted afterwards."""
    name = queue_name()
    yield name
    await _delete_redis_keys(REDIS_BROKER, name)


@pytest.fixture
def amqp_queue() -> Iterator[str]:
    """A queue name on RabbitMQ that no worker consumes; deleted afterwards."""
    name = queue_name()
    yield name
    _delete_amqp_queues(name)


async def _delete_redis_keys(broker: str, queue: str) -> None:
    """What Kombu keeps on Redis for ``queue``: its lists (one per priority) and its bindings."""
    client = redis.asyncio.from_url(broker)
    keys = [key async for key in client.scan_iter(match=f"*{queue}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def _delete_amqp_queues(*names: str) -> None:
    async def delete() -> None:
        connection = await aiormq.connect(AMQP_BROKER)
        for name in names:
            await (await connection.channel()).queue_delete(name)
        await connection.close()

    asyncio.run(delete())


def send_tasks(broker: str, queue: str, count: int, **options: Any) -> None:
    """``count`` tasks published to ``queue`` the way an application sends them (Celery declares it)."""
    app = Celery("vigil_sender", broker=broker, set_as_current=False)
    try:
        with app.producer_or_acquire() as producer:
            for _ in range(count):
                app.send_task("vigil_tiny.add", args=(1, 2), queue=queue, producer=producer, **options)
    finally:
        app.close()


async def observe(probe: CeleryProbe | None = None, **fields: Any) -> Observation:
    fields.setdefault("ping_timeout", "500ms")
    return await conftest.observe(KIND, probe, **fields)


async def test_a_live_worker_answers_ping_and_an_idle_queue_passes(redis_worker: Worker) -> None:
    observation = await observe(celery=REDIS_BROKER, queues=[redis_worker.queue], expect={"queue_max": 0})

    assert observation.ok, observation.reason
    assert observation.values == {"workers": 1, f"queue_messages.{redis_worker.queue}": 0}


async def test_a_redis_queue_filled_past_the_bound_fails_with_its_depth(
    redis_worker: Worker, redis_queue: str
) -> None:
    send_tasks(REDIS_BROKER, redis_queue, 3)
    send_tasks(REDIS_BROKER, redis_queue, 2, priority=9)  # kept in a list of their own by Kombu

    observation = await observe(celery=REDIS_BROKER, queues=[redis_queue], expect={"queue_max": 4})

    assert observation.reason == f"queue {redis_queue} holds 5 messages, expected at most 4"
    assert observation.values == {"workers": 1, f"queue_messages.{redis_queue}": 5}


async def test_a_queue_celery_never_used_reads_as_empty_on_redis(redis_worker: Worker) -> None:
    observation = await observe(celery=REDIS_BROKER, queues=[queue_name()], expect={"queue_max": 0})

    assert observation.ok, observation.reason


async def test_an_amqp_worker_answers_and_a_filled_queue_fails_with_its_depth(
    amqp_worker: Worker, amqp_queue: str
) -> None:
    send_tasks(AMQP_BROKER, amqp_queue, 3)

    observation = await observe(
        celery=AMQP_BROKER, queues=[amqp_worker.queue, amqp_queue], expect={"queue_max": 2}
    )

    assert observation.reason == f"queue {amqp_queue} holds 3 messages, expected at most 2"
    assert observation.values[f"queue_messages.{amqp_queue}"] == 3
    assert observation.values[f"queue_messages.{amqp_worker.queue}"] == 0
    assert observation.values["workers"] >= 1  # other Celery apps on this vhost may answer too


async def test_a_queue_the_amqp_broker_does_not_have_fails_naming_it(amqp_worker: Worker) -> None:
    absent = queue_name()

    observation = await observe(celery=AMQP_BROKER, queues=[absent])

    assert observation.reason == f"queue {absent} does not exist"
    assert observation.values["workers"] >= 1


async def test_a_stopped_worker_leaves_no_one_to_answer_and_the_check_fails(workers: Workers) -> None:
    probe = CeleryProbe()
    try:
        up = await observe(probe, celery=STOPPABLE_BROKER)
        workers.stoppable.stop()
        down = await observe(probe, celery=STOPPABLE_BROKER)
    finally:
        await probe.close()

    assert up.ok, up.reason
    assert down.reason == "0 workers answered ping within 500ms, expected at least 1"
    assert down.values == {"workers": 0}


async def test_more_workers_expected_than_answer_fails_saying_how_many_did(redis_worker: Worker) -> None:
    observation = await observe(celery=REDIS_BROKER, expect={"workers_min": 2})

    assert observation.reason == "1 worker answered ping within 500ms, expected at least 2"


async def test_the_ping_runs_off_the_event_loop(redis_worker: Worker) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    observation = await observe(celery=REDIS_BROKER)
    seconds = time.perf_counter() - started
    ticker.cancel()

    assert observation.ok, observation.reason
    assert seconds >= 0.5  # the whole ping window was waited for…
    assert ticks >= 20  # …while the loop went on serving others


async def test_without_a_workers_bound_no_ping_is_sent(redis_queue: str) -> None:
    started = time.perf_counter()
    observation = await observe(celery=REDIS_BROKER, queues=[redis_queue], expect={"workers_min": None})

    assert observation.ok, observation.reason
    assert observation.values == {f"queue_messages.{redis_queue}": 0}
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "url", ["redis://:{secret}@127.0.0.1:{port}/13", "amqp://guest:{secret}@127.0.0.1:{port}//"]
)
async def test_a_broker_that_refuses_fails_with_a_clear_reason_and_no_password(
    url: str, closed_port: int
) -> None:
    observation = await observe(celery=url.format(secret=SECRET, port=closed_port), queues=["celery"])

    assert observation.reason == f"broker: connection refused (127.0.0.1:{closed_port})"


async def test_a_wrong_broker_password_fails_without_showing_it() -> None:
    url = f"amqp://guest:{SECRET}@127.0.0.1:5672//"
    runner = CheckRunner(ProbeSet(), redactor=Redactor({url}))

    result = await runner.run(CheckSpec("worker", "celery", KIND.config.model_validate({"celery": url})))

    assert result.reason == "broker: authentication failed for user 'guest' (127.0.0.1:5672)"
    assert SECRET not in str(result.as_dict())


async def test_a_broker_that_never_answers_times_out_within_the_check_timeout(
    runner: CheckRunner, silent_port: int
) -> None:
    fields = {"celery": f"redis://127.0.0.1:{silent_port}/0", "timeout": "300ms"}

    result = await runner.run(CheckSpec("worker", "celery", KIND.config.model_validate(fields)))

    assert result.reason == "timed out after 300ms"
    assert result.duration_ms < 1000


@pytest.mark.parametrize(("timeout", "window"), [("10s", "1s"), ("1s", "500ms"), ("200ms", "100ms")])
def test_the_ping_waits_one_second_or_half_the_timeout_unless_told(timeout: str, window: str) -> None:
    check = KIND.config.model_validate({"celery": REDIS_BROKER, "timeout": timeout})

    assert format_duration(check.ping_window) == window


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"celery": f"sqs://key:{SECRET}@"},
            "expected a URL starting with redis://, rediss://, amqp://, amqps:// or pyamqp://",
        ),
        ({"expect": {"queue_max": 100}}, "expect.queue_max bounds the queues listed in queues"),
        ({"timeout": "2s", "ping_timeout": "2s"}, r"ping_timeout \(2s\) must be shorter than timeout \(2s\)"),
        ({"ping_timeout": "0s"}, "ping_timeout must be longer than 0s"),
        ({"queues": ["celery", "celery"]}, "queue 'celery' is listed twice"),
        ({"expect": {"workers_min": -1}}, "greater than or equal to 0"),
    ],
)
def test_a_check_that_cannot_be_run_is_a_config_error(fields: dict[str, Any], message: str) -> None:
    fields.setdefault("celery", REDIS_BROKER)
    with pytest.raises(ValidationError, match=message) as caught:
        KIND.config.model_validate(fields)

    assert all(SECRET not in error["msg"] for error in caught.value.errors())


async def test_closing_the_probe_ends_its_ping_threads(redis_worker: Worker) -> None:
    probe = CeleryProbe()
    await observe(probe, celery=REDIS_BROKER)
    assert ping_threads()

    await probe.close()

    for _ in range(250):  # threads end once they see the shutdown; give them up to 5s
        if not ping_threads():
            break
        await asyncio.sleep(0.02)
    assert not ping_threads()


def ping_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("vigil-celery-ping")]
