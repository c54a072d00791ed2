"""Small local servers that speak a real product's documented protocol, for probe kinds whose
server cannot be installed on the test machine from a package registry (no Debian, PyPI or npm
package ships a Qdrant or MongoDB server binary; the npm and PyPI helpers that exist download
one from the vendor at run time). Each module says what it implements and what it leaves out."""

from __future__ import annotations

import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web


@contextlib.asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """``app`` listening on a free port of 127.0.0.1, as its base URL, while the block runs."""
    runner = web.AppRunner(app, shutdown_timeout=0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def self_signed(folder: Path, days: int = 1) -> ssl.SSLContext:
    """A server-side TLS context with a fresh certificate for 127.0.0.1 that no client trusts
    (made with ``openssl`` in ``folder``)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
