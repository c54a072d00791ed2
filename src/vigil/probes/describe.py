"""Network and driver errors, said in one line a responder understands."""

from __future__ import annotations

import errno
import socket
import ssl


def describe_error(err: BaseException) -> str:
    """One line for ``err``: the kind of failure first, then the detail the library gave."""
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, socket.gaierror):
        return f"cannot resolve host name ({err.strerror or err})"
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {err.verify_message or err}"
    if isinstance(err, ssl.SSLError):
        return f"TLS error: {err.reason or err}"
    if isinstance(err, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(err, OSError) and err.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    name = type(err).__name__
    return f"{name}: {text}" if text else name


def step_budget(timeout: float) -> float:
    """Seconds a probe may wait on steps of its own within a check's ``timeout``.

    Stopping a little before the engine's deadline lets the reason name the step that was late
    (``no reply within 5s``) where the engine could only say ``timed out after 5s``.
    """
    return timeout - min(0.25, timeout / 10)
