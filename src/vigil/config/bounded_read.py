"""Files and URLs a stack file names (runbooks, calendars), read within a size bound.

A file is read no further than its bound, so one that grows while it is read, or a device that
never ends, costs at most the bound; a URL is streamed and cut off at the bound and its time
budget, never read whole into memory. Each refusal is one line naming what was read, the bound,
and raised as the caller's own ``VigilError`` kind (a runbook's, a calendar's). A URL's failure
names what was fetched, never the URL: a private calendar's URL is its password.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.errors import VigilError

if TYPE_CHECKING:  # the client is handed in; validating a stack file never imports httpx
    import httpx


def too_big(shown: str, what: str, limit: int, size: int | None = None) -> str:
    if size is None:
        return f"{shown}: more than the {limit:,} bytes a {what} may have"
    return f"{shown}: {size:,} bytes is more than the {limit:,} a {what} may have"


def read_file(path: Path, limit: int, what: str, fault: type[VigilError], shown: str | None = None) -> bytes:
    """The bytes of ``path``, at most ``limit`` of them; ``shown`` is how the message names it."""
    shown = shown or str(path)
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > limit:
                raise fault(too_big(shown, what, limit, size))
            data = file.read(limit + 1)
    except OSError as err:
        raise fault(f"{shown}: cannot read the {what}: {err.strerror}") from None
    if len(data) > limit:
        raise fault(too_big(shown, what, limit))
    return data


async def download(
    http: httpx.AsyncClient,
    url: str,
    limit: int,
    read_timeout: float,
    what: str,
    fault: type[VigilError],
    shown: str,
) -> bytes:
    """The body at ``url``, at most ``limit`` bytes, within ``read_timeout`` per read and three times
    that in all (a server that trickles forever is cut off). ``shown`` names it in every failure,
    in place of the URL, which can carry a token."""
    import httpx  # here: only a command that fetches pays for it

    chunks: list[bytes] = []
    size = 0
    try:
        async with (
            asyncio.timeout(read_timeout * 3),
            http.stream("GET", url, timeout=read_timeout, follow_redirects=True) as response,
        ):
            if response.is_error:
                raise fault(f"{shown}: the server answered {response.status_code} {response.reason_phrase}")
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise fault(too_big(shown, what, limit))
                chunks.append(chunk)
    except TimeoutError:
        raise fault(f"{shown}: no whole answer within {read_timeout * 3:.0f} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        raise fault(f"{shown}: cannot be fetched: {type(err).__name__}") from None
    return b"".join(chunks)
