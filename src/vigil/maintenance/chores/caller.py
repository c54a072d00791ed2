"""The caller's own database sessions: those whose client end is a socket of this process.

A ``kill-idle`` run from ``vigil up`` must not end the pool of Vigil's own state store when it
lives on the same server, nor, run from a test or a script, the session that script holds. A
server names each client by address and port; this process's open TCP sockets say which are its
own. Sessions over a Unix socket carry no port and cannot be told apart this way: pass their
ids with ``--keep``.
"""

from __future__ import annotations

import ipaddress


def own_endpoints() -> frozenset[tuple[str, int]]:
    """(address, port) of every TCP socket this process has open, addresses normalised."""
    import psutil  # here: the stack file's checklists name chores, and `vigil validate` needs no psutil

    try:
        connections = psutil.Process().net_connections(kind="tcp")
    except psutil.Error:
        return frozenset()
    return frozenset((normal(c.laddr.ip), c.laddr.port) for c in connections if c.laddr)


def normal(address: str) -> str:
    """One spelling for an address: ``::ffff:127.0.0.1`` and ``127.0.0.1`` alike."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
