"""The ``tcp`` probe against real local listeners, run through the engine's ``CheckRunner``."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import Any

import pytest
from pydantic import ValidationError

from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes.base import Result
from vigil.probes.tcp import TcpCheck, parse_address


async def run(runner: CheckRunner, **fields: Any) -> Result:
    return await runner.run(CheckSpec("db", "port", TcpCheck.model_validate(fields)))


async def listen(host: str) -> tuple[asyncio.Server, list[bool]]:
    """A listener on ``host`` that notes each connection it sees."""
    connections: list[bool] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(True)
        writer.close()

    return await asyncio.start_server(accept, host, 0), connections


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:5432", ("127.0.0.1", 5432)),
        ("db.internal:6379", ("db.internal", 6379)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:6379", ("::1", 6379)),
        ("[fe80::1%eth0]:22", ("fe80::1%eth0", 22)),
    ],
)
def test_an_address_is_host_and_port_with_ipv6_in_brackets(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address
    assert TcpCheck.model_validate({"tcp": text}).address == address


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("localhost", ""),
        (":5432", ""),
        ("db:0", ""),
        ("db:65536", ""),
        ("db:http", ""),
        ("tcp://db:5432", "; leave out the scheme"),
        ("db :5432", ""),
        ("::1:6379", "; put an IPv6 address in brackets"),
    ],
)
def test_a_target_that_is_not_host_and_port_is_rejected_when_the_stack_file_is_read(
    text: str, hint: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        TcpCheck.model_validate({"tcp": text})

    [error] = raised.value.errors()
    expected = f"expected host:port, e.g. 127.0.0.1:5432 or [::1]:6379, got {text!r}{hint}"
    assert str(error["msg"]).removeprefix("Value error, ") == expected


async def test_an_open_port_passes_and_reports_how_long_connecting_took(runner: CheckRunner) -> None:
    server, connections = await listen("127.0.0.1")
    port = server.sockets[0].getsockname()[1]
    try:
        result = await run(runner, tcp=f"127.0.0.1:{port}")
        await asyncio.sleep(0.01)  # let the server's handler see the connection
    finally:
        server.close()
        await server.wait_closed()

    assert (result.ok, result.reason) == (True, None)
    assert 0 < result.values["connect_ms"] < 1000
    assert connections == [True]


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_an_ipv6_address_in_brackets_is_connected_to(runner: CheckRunner) -> None:
    server, _ = await listen("::1")
    port = server.sockets[0].getsockname()[1]
    try:
        result = await run(runner, tcp=f"[::1]:{port}")
    finally:
        server.close()
        await server.wait_closed()

    assert (result.ok, result.reason) == (True, None)


async def test_a_refused_port_says_connection_refused_with_the_target(
    runner: CheckRunner, closed_port: int
) -> None:
    result = await run(runner, tcp=f"127.0.0.1:{closed_port}")

    assert (result.ok, result.reason) == (False, f"127.0.0.1:{closed_port}: connection refused")


async def test_a_name_with_several_addresses_still_says_why_each_failed_in_plain_words(
    runner: CheckRunner, closed_port: int
) -> None:
    result = await run(runner, tcp=f"localhost:{closed_port}")

    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith(f"localhost:{closed_port}: ")
    assert "connection refused" in result.reason
    assert "Multiple exceptions" not in result.reason


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs to a full backlog")
async def test_a_connection_that_never_opens_times_out_at_the_checks_timeout(runner: CheckRunner) -> None:
    # Linux silently drops new SYNs while a listener's backlog is full, so connecting hangs.
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler.settimeout(1)
        filler.connect(("127.0.0.1", port))
        start = time.monotonic()

        result = await run(runner, tcp=f"127.0.0.1:{port}", timeout="300ms")

    assert (result.ok, result.reason) == (False, "timed out after 300ms")
    assert time.monotonic() - start < 1.0


async def test_a_host_name_that_does_not_resolve_says_so(runner: CheckRunner) -> None:
    # .invalid never resolves (RFC 6761), so this asks the resolver without depending on the internet.
    result = await run(runner, tcp="vigil-test.invalid:5432", timeout="5s")

    assert result.reason is not None
    assert result.reason.startswith("vigil-test.invalid:5432: cannot resolve host name")
