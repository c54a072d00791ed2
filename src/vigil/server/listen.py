"""Listening sockets bound before anything is announced.

A server that prints its address and then fails to bind has told its user something false; so
``vigil demo`` binds first, holds the socket, prints, and hands the socket to uvicorn. Binding
(not probing with a connect) is the only test that cannot race another program.
"""

from __future__ import annotations

import errno
import socket

from vigil.errors import VigilError


class ListenError(VigilError):
    """A port cannot be listened on: taken, privileged, or an address this host does not have."""

    exit_code = 2

    def __init__(self, message: str, *, in_use: bool = False) -> None:
        super().__init__(message)
        self.in_use = in_use


def bind(host: str, port: int, *, what: str = "Vigil") -> socket.socket:
    """A socket bound to ``host:port`` (port 0: one the system picks), ready for uvicorn's
    ``sockets=``; a ``ListenError`` naming ``what`` and the port when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A restarted server must not wait out the TIME_WAIT connections of the previous run; Linux
    # still refuses the bind while another socket listens on the port.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        shown = f"[{host}]" if ":" in host else host
        if err.errno == errno.EADDRINUSE:
            raise ListenError(
                f"{what} cannot listen on {shown}:{port}: another program is using that port",
                in_use=True,
            ) from None
        raise ListenError(f"{what} cannot listen on {shown}:{port}: {err.strerror}") from None
    return sock


def bind_first_free(host: str, port: int, *, tries: int = 10, what: str = "Vigil") -> socket.socket:
    """``bind`` to ``port`` or, when taken, the next free one of ``tries`` ports after it (easy
    to remember), else to any port the system gives; other faults are raised at once."""
    for candidate in range(port, min(port + tries, 65536)):
        try:
            return bind(host, candidate, what=what)
        except ListenError as err:
            if not err.in_use:
                raise
    return bind(host, 0, what=what)


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])
