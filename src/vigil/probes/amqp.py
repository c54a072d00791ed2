"""``amqp`` (RabbitMQ): connect, and for named queues their message and consumer counts.

Counts come from a passive ``queue.declare``: it reads a queue without creating it, so a queue
that does not exist fails the check by name instead of being made, empty, by the check itself.

The client is aiormq, an asyncio one: the engine's timeout cancels it mid-connect like any other
probe, and no thread is held by a broker that stops answering. (aio-pika is aiormq plus
reconnection and consumer helpers; a probe must see a broken connection, not have it mended.)

Values: ``connect_ms`` (TCP, AMQP handshake and login), and for each named queue
``queue_messages.<queue>`` (messages ready for delivery; those delivered but not yet
acknowledged are not counted) and ``queue_consumers.<queue>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator, model_validator

from vigil.config.check import CheckBase, StrictModel
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.query import connect_failure, elapsed_ms, endpoint, first_line, scrub

if TYPE_CHECKING:
    import aiormq

CLOSE_TIMEOUT = 1.0
"""How long a polite close may wait for the broker's answer before the socket is dropped."""

QueueName = Annotated[str, Field(min_length=1, max_length=255)]  # AMQP's shortstr: at most 255 bytes
QUEUES_MAX = 100


def require_scheme(url: str, schemes: Sequence[str], example: str) -> str:
    """``url`` when its scheme is one of ``schemes``; else a ``ValueError`` naming only the scheme
    (never the URL: it may hold a password)."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme not in schemes:
        *others, last = [f"{name}://" for name in schemes]
        accepted = f"{', '.join(others)} or {last}" if others else last
        got = f"scheme {scheme!r}" if scheme else "no scheme"
        raise ValueError(f"expected a URL starting with {accepted}, e.g. {example}; got {got}")
    return url


def distinct(queues: list[str]) -> list[str]:
    """``queues`` when no name is listed twice (each becomes a value of its own)."""
    seen: set[str] = set()
    for name in queues:
        if name in seen:
            raise ValueError(f"queue {name!r} is listed twice")
        seen.add(name)
    return queues


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def depth_problem(queue: str, messages: int, most: int | None) -> str | None:
    """``queue celery holds 140 messages, expected at most 100``, or None within the bound."""
    if most is None or messages <= most:
        return None
    return f"queue {queue} holds {plural(messages, 'message')}, expected at most {most}"


class AmqpExpect(StrictModel):
    messages_max: int | None = Field(None, ge=0, description="Each named queue holds at most this many.")
    consumers_min: int | None = Field(None, ge=0, description="Each named queue has at least this many.")


class AmqpCheck(CheckBase):
    kind: ClassVar[str] = "amqp"

    amqp: str = Field(description="Broker URL, e.g. amqp://guest:guest@127.0.0.1:5672/ (amqps:// for TLS).")
    queues: list[QueueName] = Field(
        default_factory=list,
        max_length=QUEUES_MAX,
        description="Queues whose message and consumer counts are read (passive declare).",
    )
    expect: AmqpExpect = Field(default_factory=lambda: AmqpExpect.model_validate({}))

    @field_validator("amqp")
    @classmethod
    def _is_amqp_url(cls, value: str) -> str:
        return require_scheme(value, ("amqp", "amqps"), "amqp://guest:guest@127.0.0.1:5672/")

    @field_validator("queues")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return distinct(value)

    @model_validator(mode="after")
    def _expect_needs_queues(self) -> AmqpCheck:
        if not self.queues and (
            self.expect.messages_max is not None or self.expect.consumers_min is not None
        ):
            raise ValueError("expect bounds the queues listed in queues, but none are listed")
        return self


@dataclass(frozen=True)
class QueueCounts:
    messages: int
    consumers: int


@dataclass(frozen=True)
class BrokerQueues:
    """What a passive declare of each named queue found."""

    connect_ms: float
    found: dict[str, QueueCounts]
    missing: list[str]


async def read_queues(url: str, queues: Sequence[str]) -> BrokerQueues:
    """Connect to the broker at ``url`` (amqp://, amqps:// or pyamqp://) and declare each of
    ``queues`` passively. ``ProbeError`` says, without the password, why the broker could not
    be used; a timeout is left to the engine."""
    import aiormq

    logging.getLogger("aiormq").setLevel(logging.CRITICAL)  # its errors become the check's reason
    if url.lower().startswith("pyamqp://"):  # Celery's name for the same protocol
        url = "amqp://" + url[len("pyamqp://") :]
    start = time.perf_counter()
    try:
        connection = await aiormq.connect(url)
    except aiormq.exceptions.AMQPError as err:
        raise ProbeError(scrub(_connect_reason(err, url), url)) from None
    connect_ms = elapsed_ms(start)
    try:
        found, missing = await _declare(connection, queues)
    except aiormq.exceptions.AMQPError as err:
        raise ProbeError(scrub(f"AMQP error: {first_line(err)}", url)) from None
    finally:
        await connection.close(timeout=CLOSE_TIMEOUT)
    return BrokerQueues(connect_ms, found, missing)


async def _declare(
    connection: aiormq.abc.AbstractConnection, queues: Sequence[str]
) -> tuple[dict[str, QueueCounts], list[str]]:
    import aiormq

    found: dict[str, QueueCounts] = {}
    missing: list[str] = []
    channel: aiormq.abc.AbstractChannel | None = None
    for name in queues:
        if channel is None or channel.is_closed:  # a refused declare closes its channel
            channel = await connection.channel()
        try:
            ok = await channel.queue_declare(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            missing.append(name)
            continue
        except aiormq.exceptions.ChannelClosed as err:  # e.g. 403 access refused, 405 exclusive queue
            raise ProbeError(f"queue {name}: {_reply_text(err)}") from None
        found[name] = QueueCounts(ok.message_count or 0, ok.consumer_count or 0)
    return found, missing


def _connect_reason(err: Exception, url: str) -> str:
    import aiormq

    parts = urlsplit(url)
    where = endpoint(url, 5671 if parts.scheme.lower() == "amqps" else 5672)
    if isinstance(err.__cause__, OSError):  # refused, unknown host, TLS: aiormq wraps the socket's error
        return connect_failure(err.__cause__, where)
    if isinstance(err, aiormq.exceptions.ProbableAuthenticationError):
        return f"authentication failed for user {unquote(parts.username or 'guest')!r} ({where})"
    if isinstance(err, aiormq.exceptions.IncompatibleProtocolError) or isinstance(err.__cause__, EOFError):
        return f"no AMQP answer from {where}: the server closed the connection; is it a RabbitMQ port?"
    if isinstance(err, aiormq.exceptions.InvalidFrameError) and "Connection.Close" in str(err):
        # The broker refused Connection.Open; aiormq keeps only the frame's type, not its text.
        vhost = unquote(parts.path[1:]) or "/"
        return (
            f"virtual host {vhost!r} refused ({where}): check that it exists "
            f"and that user {unquote(parts.username or 'guest')!r} may use it"
        )
    if isinstance(err, aiormq.exceptions.ConnectionClosed):
        return f"connection closed: {_reply_text(err)} ({where})"
    return f"AMQP error: {first_line(err)} ({where})"


def _reply_text(err: Exception) -> str:
    # aiormq's closing errors carry the broker's (code, text); the text is the readable part.
    # RabbitMQ's texts run on after the first sentence with guesses at the cause.
    text = str(err.args[1]) if len(err.args) >= 2 else first_line(err)
    return text.split(". ", 1)[0]


class AmqpProbe:
    """A new connection for every observation, closed after it (see ``postgres``: a kept one
    would hide whether the broker still accepts new connections)."""

    async def observe(self, check: AmqpCheck) -> Observation:
        try:
            broker = await read_queues(check.amqp, check.queues)
        except ProbeError as err:
            return Observation.failed(str(err))
        problems: list[str] = []
        values: dict[str, float] = {"connect_ms": broker.connect_ms}
        for name in check.queues:
            counts = broker.found.get(name)
            if counts is None:
                problems.append(f"queue {name} does not exist")
                continue
            values[f"queue_messages.{name}"] = counts.messages
            values[f"queue_consumers.{name}"] = counts.consumers
            problem = depth_problem(name, counts.messages, check.expect.messages_max)
            if problem:
                problems.append(problem)
            least = check.expect.consumers_min
            if least is not None and counts.consumers < least:
                problems.append(
                    f"queue {name} has {plural(counts.consumers, 'consumer')}, expected at least {least}"
                )
        return Observation(not problems, "; ".join(problems) or None, values)

    async def close(self) -> None:
        return None  # nothing is kept between observations


KIND = ProbeKind("amqp", AmqpCheck, AmqpProbe, loads=("aiormq",))
