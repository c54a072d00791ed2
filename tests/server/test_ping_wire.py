"""``vigil up``'s fast path for pings (``server.ping_wire``) on the wire: real uvicorn on a free
port, spoken to by ``curl`` and by a raw socket (keep-alive, pipelining, malformed requests)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import func, select

from tests.server.conftest import uvicorn_served
from vigil.server.ping_wire import PingWire
from vigil.server.runtime import Runtime
from vigil.store.tables import PingRow

KEYS = {"A": "wire-key-a-0123456789", "B": "wire-key-b-0123456789", "C": "wire-key-c-0123456789"}
STACK = """
server: {public_read: true, max_body: 2KB}
services:
  jobs:
    checks:
      a: {heartbeat: {every: 1h, key: "${A}"}}
      b: {heartbeat: {every: 1h, key: "${B}"}}
      c: {heartbeat: {every: 1h, key: "${C}"}}
"""


@dataclass
class Wire:
    port: int
    runtime: Runtime
    server: uvicorn.Server

    async def open(self) -> Talk:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return Talk(reader, writer)

    def protocols(self) -> list[PingWire]:
        return [c for c in self.server.server_state.connections if isinstance(c, PingWire)]

    async def stored(self) -> int:
        await self.runtime.heartbeats.writer.flush()
        async with self.runtime.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(PingRow))).scalar() or 0)


@dataclass
class Talk:
    """One connection: requests written as given, answers read one by one."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, raw: bytes) -> None:
        self.writer.write(raw)
        await self.writer.drain()

    async def answer(self) -> tuple[int, dict[str, str], bytes]:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *lines = head.decode().split("\r\n")[:-2]
        headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), 5) == b""

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def get(path: str, *extra: str) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: vigil", *extra, "", ""]).encode()


@pytest.fixture
async def wire(tmp_path: Path) -> AsyncIterator[Wire]:
    async with uvicorn_served(tmp_path, STACK, KEYS, keep_alive=2) as (url, runtime, server):
        yield Wire(int(url.rsplit(":", 1)[1]), runtime, server)


async def test_pings_on_one_connection_are_answered_in_the_parser_and_stored(wire: Wire) -> None:
    talk = await wire.open()
    for key in KEYS.values():
        await talk.send(get(f"/ping/{key}"))
        status, headers, body = await talk.answer()
        assert (status, body) == (200, b"OK")
        assert headers["content-type"] == "text/plain; charset=utf-8" and "connection" not in headers
    (protocol,) = wire.protocols()
    assert protocol.cycle is None  # no ASGI request was made for them
    await talk.close()
    assert await wire.stored() == 3


async def test_pipelined_pings_get_their_answers_in_order_in_one_write(wire: Wire) -> None:
    talk = await wire.open()
    paths = [
        f"/ping/{KEYS['A']}/start",
        f"/ping/{KEYS['B']}/x",
        "/ping/unknown-key-0123456789",
        f"/ping/{KEYS['A']}",
    ]
    await talk.send(
        b"".join(get(p) for p in paths) + b"HEAD /ping/" + KEYS["C"].encode() + b" HTTP/1.1\r\n\r\n"
    )
    answers = [await talk.answer() for _ in paths]
    assert [status for status, _, _ in answers] == [200, 400, 404, 200]
    assert "is not a ping" in json.loads(answers[1][2])["error"]
    assert answers[2][1]["content-type"] == "application/json"
    head = await asyncio.wait_for(talk.reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 2" in head
    assert wire.protocols()[0].cycle is None
    await talk.close()


async def test_a_ping_pipelined_behind_another_request_is_answered_after_it(wire: Wire) -> None:
    talk = await wire.open()
    await talk.send(
        get(f"/ping/{KEYS['A']}") + get("/livez") + get(f"/ping/{KEYS['B']}") + get(f"/ping/{KEYS['C']}/fail")
    )
    first, health, second, third = [await talk.answer() for _ in range(4)]
    assert first[2] == b"OK" and second[2] == b"OK" and third[2] == b"OK"
    assert health[0] == 200 and health[2] != b"OK"
    await talk.close()
    assert await wire.stored() == 3


async def test_a_malformed_request_line_after_a_ping_is_a_400_after_the_pings_answer(wire: Wire) -> None:
    talk = await wire.open()
    await talk.send(get(f"/ping/{KEYS['A']}") + b"NOT A REQUEST\r\n\r\n")
    assert (await talk.answer())[2] == b"OK"
    status, headers, _ = await talk.answer()
    assert status == 400 and headers["connection"] == "close"
    assert await talk.closed()


async def test_refusals_keep_the_connection_and_an_over_long_body_is_a_413(wire: Wire) -> None:
    talk = await wire.open()
    big = "POST /ping/{} HTTP/1.1\r\nHost: vigil\r\nContent-Length: 3000\r\n\r\n".format(KEYS["A"])
    await talk.send(big.encode() + b"y" * 3000 + b"DELETE /ping/" + KEYS["A"].encode() + b" HTTP/1.1\r\n\r\n")
    status, _, body = await talk.answer()
    assert status == 413 and "at most 2000 bytes" in json.loads(body)["error"]
    status, headers, _ = await talk.answer()
    assert status == 405 and headers["allow"] == "GET, POST, HEAD"
    await talk.send(get(f"/ping/{KEYS['A']}", "Connection: close"))
    status, headers, _ = await talk.answer()
    assert status == 200 and headers["connection"] == "close"
    assert await talk.closed()
    assert await wire.stored() == 1


async def test_a_flood_on_one_connection_is_limited_per_key_with_retry_after(wire: Wire) -> None:
    talk = await wire.open()
    await talk.send(get(f"/ping/{KEYS['B']}") * 25)
    answers = [await talk.answer() for _ in range(25)]
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) >= 10 and 429 in statuses
    limited = next(a for a in answers if a[0] == 429)
    assert limited[1]["retry-after"] == "1" and "too many pings" in json.loads(limited[2])["error"]
    await talk.close()


async def test_an_idle_connection_is_closed_after_the_keep_alive_and_a_busy_one_is_not(wire: Wire) -> None:
    busy, idle = await wire.open(), await wire.open()
    await idle.send(get(f"/ping/{KEYS['A']}"))
    await idle.answer()
    for _ in range(15):  # 3 s of a ping every 0.2 s, past the 2 s keep-alive
        await busy.send(get(f"/ping/{KEYS['B']}"))
        assert (await busy.answer())[0] == 200
        await asyncio.sleep(0.2)
    assert await idle.closed()
    await busy.send(get(f"/ping/{KEYS['B']}"))
    assert (await busy.answer())[0] == 200
    await busy.close()


async def curl(*args: str) -> list[str]:
    process = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-m", "10", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode().split()


async def test_curl_reuses_its_connection_and_posts_a_log_with_expect_100_continue(wire: Wire) -> None:
    base = f"http://127.0.0.1:{wire.port}/ping/"
    urls = [base + KEYS["A"], base + KEYS["B"] + "/start", base + KEYS["B"]]
    said = await curl("-w", " %{http_code}:%{num_connects}\n", *urls)
    assert said == ["OK", "200:1", "OK", "200:0", "OK", "200:0"]
    log = f"restore from postgresql://app:hunter2pw@db/prod\nwith {KEYS['A']}\n" + "z" * 1500
    said = await curl(
        "-H", "Expect: 100-continue", "--data-binary", log, "-w", " %{http_code}\n", f"{base}{KEYS['C']}/1"
    )
    assert said == ["OK", "200"]
    beat = wire.runtime.heartbeats.beats["jobs.c"]
    assert beat.failure is not None and beat.failure.startswith("exit status 1")
    await wire.stored()
    async with wire.runtime.engine.connect() as conn:
        body = (await conn.execute(select(PingRow.body).where(PingRow.check_id == "jobs.c"))).scalar_one()
    assert "restore from" in body and "hunter2pw" not in body and KEYS["A"] not in body


async def test_a_url_that_is_not_ascii_is_a_400(wire: Wire) -> None:
    talk = await wire.open()
    await talk.send(b"GET /ping/\xff\xfe HTTP/1.1\r\nHost: vigil\r\n\r\n")
    assert (await talk.answer())[0] == 400
    assert await talk.closed()


async def test_a_client_that_reads_no_answers_is_not_read_until_it_does(wire: Wire) -> None:
    talk = await wire.open()
    try:
        count = 60_000  # 3 MB of pings, 14 MB of answers: more than the sockets' buffers hold
        talk.writer.write(get("/ping/unknown-key-0123456789") * count)
        (protocol,) = wire.protocols()
        for _ in range(100):
            if protocol.flow.read_paused:
                break
            await asyncio.sleep(0.05)
        assert protocol.flow.read_paused, "the server still reads a client that reads nothing"
        # What one read of pings is answered with, at most: not all 14 MB.
        assert protocol.transport.get_write_buffer_size() < 2 * 1024 * 1024
        await asyncio.sleep(2.5)  # past the keep-alive: a client still reading is not idle
        status, seen, tail = b"HTTP/1.1 404 Not Found\r\n", 0, b""
        while seen < count:
            chunk = await asyncio.wait_for(talk.reader.read(1 << 20), 10)
            assert chunk, f"closed after {seen} answers"
            text, tail = tail + chunk, (tail + chunk)[-len(status) + 1 :]
            seen += text.count(status)
    finally:
        await talk.close()
