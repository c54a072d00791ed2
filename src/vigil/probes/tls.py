"""``tls``: a server's certificate: days until it expires, the host it names, the chain behind it.

The handshake is verified against the system's CAs (or only those in ``ca_file``); when that
fails the certificate is fetched again without verification, so that an untrusted or
mismatched certificate still reports its days left. The host name is matched by Vigil itself
(subject alternative names, one-label wildcards, as browsers do) so that a certificate that
is both untrusted and for another host says both.

Values: ``days_left`` (fractional days until the certificate's notAfter; negative once it has
expired) and ``handshake_ms`` (the TLS handshake of the verified attempt, after the TCP connect).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from vigil.config.check import CheckBase, StrictModel
from vigil.config.durations import format_duration
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.describe import describe_error, step_budget
from vigil.probes.tcp import Address, open_stream, parse_address

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

# OpenSSL's verify codes worth saying in words; any other is said in OpenSSL's own.
_SELF_SIGNED = 18
_SELF_SIGNED_IN_CHAIN = 19
_UNKNOWN_ISSUER = (2, 20, 21)
_EXPIRED = 10
_NOT_YET_VALID = 9
_NAMES_SHOWN = 3


class TlsExpect(StrictModel):
    days_min: float = Field(
        14, ge=0, le=3650, description="Fewest days the certificate must still be valid (default 14)."
    )
    trusted: bool = Field(
        True, description="The chain must lead to a trusted CA: the system's, or ca_file's."
    )
    hostname_match: bool = Field(True, description="The certificate must name the host checked.")


# Shared by every check that sets no ``expect``: the model is frozen.
DEFAULT_EXPECT = TlsExpect.model_validate({})


class TlsCheck(CheckBase):
    kind: ClassVar[str] = "tls"

    tls: Address = Field(description="host:port of the TLS server, e.g. api.example.com:443.")
    server_name: str | None = Field(
        None,
        min_length=1,
        max_length=253,
        description="Host name sent as SNI and matched against the certificate; default: the target's host.",
    )
    ca_file: str | None = Field(
        None, max_length=4096, description="PEM file of the CAs to trust instead of the system's."
    )
    expect: TlsExpect = Field(default_factory=lambda: DEFAULT_EXPECT)

    @cached_property
    def address(self) -> tuple[str, int]:
        return parse_address(self.tls)

    @property
    def hostname(self) -> str:
        return self.server_name or self.address[0]


class TlsProbe:
    """Keeps the system's trust store loaded: reading it costs more than a handshake."""

    def __init__(self) -> None:
        self._system: ssl.SSLContext | None = None
        self._unverified: ssl.SSLContext | None = None

    async def observe(self, check: TlsCheck) -> Observation:
        host, port = check.address
        target = check.tls
        deadline = asyncio.get_running_loop().time() + step_budget(check.timeout)
        trusting = await self._trusting(check.ca_file)
        try:
            async with asyncio.timeout_at(deadline):
                handshake_ms, der, refused = await _handshake(host, port, check.hostname, trusting)
                if der is None:
                    _, der, _ = await _handshake(host, port, check.hostname, self._without_verifying())
        except TimeoutError:
            raise ProbeError(
                f"{target}: TLS handshake not finished within {format_duration(check.timeout)}"
            ) from None
        if der is None:
            raise ProbeError(f"{target}: the server sent no certificate")
        return _judge(check, der, refused, handshake_ms)

    async def _trusting(self, ca_file: str | None) -> ssl.SSLContext:
        if ca_file is None:
            if self._system is None:
                self._system = await asyncio.to_thread(_verifying, None)
            return self._system
        try:
            return await asyncio.to_thread(_verifying, ca_file)
        except FileNotFoundError:
            raise ProbeError(f"ca_file {ca_file} does not exist") from None
        except (ssl.SSLError, OSError) as err:
            raise ProbeError(
                f"ca_file {ca_file} cannot be read as PEM certificates: {describe_error(err)}"
            ) from None

    def _without_verifying(self) -> ssl.SSLContext:
        if self._unverified is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self._unverified = context
        return self._unverified

    async def close(self) -> None:
        return None


def _verifying(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    context.check_hostname = False  # judged by _host_problem, so that it is said alongside the chain's
    return context


async def _handshake(
    host: str, port: int, server_name: str, context: ssl.SSLContext
) -> tuple[float, bytes | None, ssl.SSLCertVerificationError | None]:
    """The handshake's duration and the peer's certificate (DER), or the verification's refusal."""
    writer = await open_stream(host, port)
    start = time.perf_counter()
    try:
        await writer.start_tls(context, server_hostname=server_name)
    except ssl.SSLCertVerificationError as err:
        writer.transport.abort()
        return (time.perf_counter() - start) * 1000.0, None, err
    except (ssl.SSLError, OSError) as err:
        writer.transport.abort()
        raise ProbeError(f"{host}:{port}: TLS handshake failed: {_handshake_error(err)}") from None
    handshake_ms = (time.perf_counter() - start) * 1000.0
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    # The TLS goodbye finishes in the background: a server that never answers it cannot hold the check.
    writer.close()
    return handshake_ms, der, None


def _judge(
    check: TlsCheck, der: bytes, refused: ssl.SSLCertVerificationError | None, handshake_ms: float
) -> Observation:
    from cryptography import x509

    now = datetime.now(UTC)
    try:
        cert = x509.load_der_x509_certificate(der)
        expires, starts = cert.not_valid_after_utc, cert.not_valid_before_utc
        names = _names(cert)
        subject = _subject(cert)
    except ValueError as err:
        return Observation.failed(
            f"{check.tls}: certificate cannot be parsed: {err}", handshake_ms=handshake_ms
        )
    days_left = (expires - now).total_seconds() / 86400
    values = {"days_left": round(days_left, 3), "handshake_ms": round(handshake_ms, 3)}
    expired = days_left < 0
    problems = [
        _date_problem(subject, expires, starts, now, check.expect.days_min),
        _host_problem(check.hostname, names) if check.expect.hostname_match else None,
        _chain_problem(refused, expired, starts > now) if check.expect.trusted else None,
    ]
    reason = "; ".join(problem for problem in problems if problem)
    return Observation(not reason, reason or None, values)


def _subject(cert: Certificate) -> str:
    from cryptography.x509.oid import NameOID

    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common_names:
        value = common_names[0].value
        return f"CN={value.decode(errors='replace') if isinstance(value, bytes) else value}"
    return cert.subject.rfc4514_string() or "with an empty subject"


def _names(cert: Certificate) -> list[str]:
    """The DNS names and IP addresses the certificate is for (its subject alternative names)."""
    from cryptography import x509

    try:
        alternatives = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = alternatives.get_values_for_type(x509.DNSName)
    return [*dns, *(str(ip) for ip in alternatives.get_values_for_type(x509.IPAddress))]


def _date_problem(
    subject: str, expires: datetime, starts: datetime, now: datetime, days_min: float
) -> str | None:
    if starts > now:
        return f"certificate {subject} is not valid before {starts:%Y-%m-%d %H:%M} UTC"
    days_left = (expires - now).total_seconds() / 86400
    if days_left < 0:
        return f"certificate {subject} expired {expires:%Y-%m-%d} ({_days(-days_left)} ago)"
    if days_left < days_min:
        return f"certificate {subject} expires {expires:%Y-%m-%d} ({_days(days_left)}), expected at least {days_min:g}"
    return None


def _days(days: float) -> str:
    if days < 1:
        hours = round(days * 24)
        return "1 hour" if hours == 1 else f"{hours} hours"
    whole = round(days)
    return "1 day" if whole == 1 else f"{whole} days"


def _host_problem(hostname: str, names: list[str]) -> str | None:
    if any(_matches(hostname, name) for name in names):
        return None
    if not names:
        return f"certificate names no host (it has no subject alternative names), not {hostname}"
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else ""
    return f"certificate is for {shown}{more}, not {hostname}"


def _matches(hostname: str, name: str) -> bool:
    """RFC 6125 matching: exact (case-blind), or ``*.`` standing for exactly one leftmost label."""
    try:
        return ipaddress.ip_address(hostname) == ipaddress.ip_address(name)
    except ValueError:
        pass
    host, pattern = hostname.rstrip(".").lower(), name.rstrip(".").lower()
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return host == pattern


def _chain_problem(refused: ssl.SSLCertVerificationError | None, expired: bool, early: bool) -> str | None:
    if refused is None:
        return None
    code = refused.verify_code
    if code == _SELF_SIGNED:
        return "chain not trusted: self-signed"
    if code == _SELF_SIGNED_IN_CHAIN:
        return "chain not trusted: its root is a self-signed certificate no trusted CA vouches for"
    if code in _UNKNOWN_ISSUER:
        return (
            "chain not trusted: issuer unknown (a CA not trusted here, or a missing intermediate certificate)"
        )
    if (code == _EXPIRED and expired) or (code == _NOT_YET_VALID and early):
        return None  # the certificate's own dates, already said
    if code == _EXPIRED:
        return "chain not trusted: an issuing certificate has expired"
    return f"chain not trusted: {refused.verify_message or describe_error(refused)}"


def _handshake_error(err: ssl.SSLError | OSError) -> str:
    if isinstance(err, ssl.SSLError) and err.reason:
        return str(err.reason).lower().replace("_", " ")  # WRONG_VERSION_NUMBER: not a TLS server
    return describe_error(err)


KIND = ProbeKind("tls", TlsCheck, TlsProbe, loads=("cryptography.x509",))
