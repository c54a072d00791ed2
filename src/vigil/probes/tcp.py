"""``tcp``: a TCP connection to ``host:port`` opens in time."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from functools import cached_property
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field

from vigil.config.check import CheckBase
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.describe import describe_error

_ADDRESS = re.compile(r"\[(?P<v6>[^\s\[\]]+)\]:(?P<v6port>\d{1,5})|(?P<host>[^\s:\[\]/]+):(?P<port>\d{1,5})")


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as ``(host, port)``; ``ValueError`` says how to write it."""
    match = _ADDRESS.fullmatch(text)
    port = int(match["port"] or match["v6port"]) if match else 0
    if match and 0 < port < 65536:
        return match["host"] or match["v6"], port
    hint = ""
    if "://" in text:
        hint = "; leave out the scheme"
    elif text.count(":") > 1 and "[" not in text:
        hint = "; put an IPv6 address in brackets"
    raise ValueError(f"expected host:port, e.g. 127.0.0.1:5432 or [::1]:6379, got {text!r}{hint}")


def _is_address(text: str) -> str:
    parse_address(text)
    return text


Address = Annotated[str, AfterValidator(_is_address)]
"""A stack-file field holding ``host:port``, refused when the file is read if it is not one."""


class TcpCheck(CheckBase):
    kind: ClassVar[str] = "tcp"

    tcp: Address = Field(description="host:port to connect to, e.g. 127.0.0.1:5432 or [::1]:6379.")

    @cached_property
    def address(self) -> tuple[str, int]:
        return parse_address(self.tcp)


class TcpProbe:
    async def observe(self, check: TcpCheck) -> Observation:
        host, port = check.address
        start = time.perf_counter()
        writer = await open_stream(host, port)
        connect_ms = (time.perf_counter() - start) * 1000.0
        writer.close()
        # The connection was opened, which is all this check asks; a messy close changes nothing.
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return Observation.passed(connect_ms=connect_ms)

    async def close(self) -> None:
        return None


async def open_stream(host: str, port: int) -> asyncio.StreamWriter:
    """A connection to the first of ``host``'s addresses that accepts one, or ``ProbeError``.

    asyncio would try the addresses itself, but when several fail (``localhost`` is ``::1`` and
    ``127.0.0.1``) it merges their errors into one OSError with no kind, and the reason would
    read ``Multiple exceptions: …`` instead of ``connection refused``.
    """
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise ProbeError(f"{target}: {describe_error(err)}") from None
    failures: dict[str, list[str]] = {}
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        try:
            _, writer = await asyncio.open_connection(address, port)
        except OSError as err:
            failures.setdefault(describe_error(err), []).append(address)
            continue
        return writer
    if len(failures) <= 1:
        raise ProbeError(f"{target}: {next(iter(failures), 'no address to connect to')}")
    each = "; ".join(f"{what} ({', '.join(addresses)})" for what, addresses in failures.items())
    raise ProbeError(f"{target}: {each}")


KIND = ProbeKind("tcp", TcpCheck, TcpProbe)
