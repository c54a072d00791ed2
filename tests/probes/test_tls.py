"""The ``tls`` probe against real local TLS servers, with certificates this test issues."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID
from pydantic import ValidationError

from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes.base import Result
from vigil.probes.tls import TlsCheck

NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def issue(
    name: str,
    *,
    days: float = 90,
    issuer: Issued | None = None,
    ca: bool = False,
    alternatives: list[x509.GeneralName] | None = None,
    starts: dt.datetime | None = None,
    extra: x509.ExtensionType | None = None,
) -> Issued:
    """A certificate for ``name`` valid ``days`` from now, signed by ``issuer`` (else by itself)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(starts or NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        sans = alternatives if alternatives is not None else [x509.DNSName(name)]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if extra is not None:
        builder = builder.add_extension(extra, critical=False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def write(issued: Issued, folder: Path, name: str) -> tuple[Path, Path]:
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(issued.cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@dataclass(frozen=True)
class Authority:
    folder: Path
    ca: Issued
    ca_file: Path


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    folder = tmp_path_factory.mktemp("tls")
    ca = issue("Vigil Test CA", days=365, ca=True)
    ca_file, _ = write(ca, folder, "ca")
    return Authority(folder, ca, ca_file)


@asynccontextmanager
async def serving(issued: Issued, folder: Path) -> AsyncIterator[int]:
    """A TLS server on a free port presenting ``issued``; it hangs up after each handshake."""
    cert_file, key_file = write(issued, folder, f"leaf-{issued.cert.serial_number}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    async def greet(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=context)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def run(runner: CheckRunner, **fields: Any) -> Result:
    return await runner.run(CheckSpec("api", "cert", TlsCheck.model_validate(fields)))


async def check(runner: CheckRunner, authority: Authority, issued: Issued, **fields: Any) -> Result:
    async with serving(issued, authority.folder) as port:
        fields.setdefault("ca_file", str(authority.ca_file))
        fields.setdefault("server_name", "api.example.com")
        return await run(runner, tls=f"127.0.0.1:{port}", **fields)


async def test_a_trusted_certificate_valid_for_90_days_passes_with_its_days_left(
    runner: CheckRunner, authority: Authority
) -> None:
    result = await check(runner, authority, issue("api.example.com", days=90, issuer=authority.ca))

    assert (result.ok, result.reason) == (True, None)
    assert 89.9 < result.values["days_left"] <= 90
    assert 0 < result.values["handshake_ms"] < 1000


async def test_a_certificate_expiring_in_3_days_names_its_subject_and_date(
    runner: CheckRunner, authority: Authority
) -> None:
    leaf = issue("api.example.com", days=3, issuer=authority.ca)

    result = await check(runner, authority, leaf, expect={"days_min": 14})

    date = leaf.cert.not_valid_after_utc.date().isoformat()
    assert (result.ok, result.reason) == (
        False,
        f"certificate CN=api.example.com expires {date} (3 days), expected at least 14",
    )
    assert 2.9 < result.values["days_left"] <= 3


async def test_fewer_days_than_expected_pass_when_the_bound_allows_them(
    runner: CheckRunner, authority: Authority
) -> None:
    leaf = issue("api.example.com", days=3, issuer=authority.ca)

    result = await check(runner, authority, leaf, expect={"days_min": 2})

    assert result.ok


async def test_an_expired_certificate_says_how_long_ago(runner: CheckRunner, authority: Authority) -> None:
    leaf = issue("api.example.com", days=-2, issuer=authority.ca, starts=NOW - dt.timedelta(days=30))

    result = await check(runner, authority, leaf)

    date = leaf.cert.not_valid_after_utc.date().isoformat()
    assert (result.ok, result.reason) == (
        False,
        f"certificate CN=api.example.com expired {date} (2 days ago)",
    )
    assert -2.1 < result.values["days_left"] < -1.9


async def test_a_certificate_not_yet_valid_says_from_when(runner: CheckRunner, authority: Authority) -> None:
    starts = (NOW + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    leaf = issue("api.example.com", issuer=authority.ca, starts=starts)

    result = await check(runner, authority, leaf)

    assert (result.ok, result.reason) == (
        False,
        f"certificate CN=api.example.com is not valid before {starts:%Y-%m-%d %H:%M} UTC",
    )


async def test_a_certificate_for_another_host_says_whom_it_is_for(
    runner: CheckRunner, authority: Authority
) -> None:
    result = await check(runner, authority, issue("other.example.com", issuer=authority.ca))

    assert (result.ok, result.reason) == (False, "certificate is for other.example.com, not api.example.com")
    assert result.values["days_left"] > 89


@pytest.mark.parametrize(
    ("names", "host", "ok"),
    [
        (["*.example.com"], "api.example.com", True),
        (["*.example.com"], "API.Example.COM.", True),
        (["*.example.com"], "a.b.example.com", False),
        (["*.example.com"], "example.com", False),
        (["www.example.com", "api.example.com"], "api.example.com", True),
    ],
)
async def test_host_names_match_exactly_or_by_a_one_label_wildcard(
    runner: CheckRunner, authority: Authority, names: list[str], host: str, ok: bool
) -> None:
    leaf = issue("site", issuer=authority.ca, alternatives=[x509.DNSName(name) for name in names])

    result = await check(runner, authority, leaf, server_name=host)

    assert result.ok is ok, result.reason


async def test_an_ip_address_target_matches_the_certificates_ip_names(
    runner: CheckRunner, authority: Authority
) -> None:
    leaf = issue(
        "local", issuer=authority.ca, alternatives=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )

    async with serving(leaf, authority.folder) as port:
        result = await run(runner, tls=f"127.0.0.1:{port}", ca_file=str(authority.ca_file))

    assert (result.ok, result.reason) == (True, None)


async def test_a_self_signed_certificate_says_its_chain_is_not_trusted(
    runner: CheckRunner, authority: Authority
) -> None:
    result = await check(runner, authority, issue("api.example.com"))

    assert (result.ok, result.reason) == (False, "chain not trusted: self-signed")
    assert result.values["days_left"] > 89  # fetched again without verifying, to say how long it has


async def test_the_system_cas_do_not_vouch_for_a_private_ca(
    runner: CheckRunner, authority: Authority
) -> None:
    leaf = issue("api.example.com", issuer=authority.ca)

    async with serving(leaf, authority.folder) as port:
        result = await run(runner, tls=f"127.0.0.1:{port}", server_name="api.example.com")

    assert result.reason is not None
    assert result.reason.startswith("chain not trusted: issuer unknown")


async def test_every_problem_of_one_certificate_is_said(runner: CheckRunner, authority: Authority) -> None:
    leaf = issue("other.example.com", days=3)

    result = await check(runner, authority, leaf)

    assert result.reason is not None
    assert result.reason.split("; ")[1:] == [
        "certificate is for other.example.com, not api.example.com",
        "chain not trusted: self-signed",
    ]


async def test_checks_of_the_host_and_the_chain_can_be_turned_off(
    runner: CheckRunner, authority: Authority
) -> None:
    leaf = issue("other.example.com")

    result = await check(runner, authority, leaf, expect={"trusted": False, "hostname_match": False})

    assert (result.ok, result.reason) == (True, None)


async def test_a_certificate_that_cannot_be_parsed_fails_with_a_clear_reason(
    runner: CheckRunner, authority: Authority
) -> None:
    # OpenSSL carries an extension it does not read (the issuer's names) through the handshake
    # unparsed; a garbled one stops the certificate from being read.
    garbled = x509.UnrecognizedExtension(ExtensionOID.ISSUER_ALTERNATIVE_NAME, b"\x30\x03\x82\x05ab")
    leaf = issue("api.example.com", issuer=authority.ca, extra=garbled)

    result = await check(runner, authority, leaf)

    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith("127.0.0.1:")
    assert ": certificate cannot be parsed: error parsing asn1 value" in result.reason


async def test_a_server_that_does_not_speak_tls_says_the_handshake_failed(runner: CheckRunner) -> None:
    async def plain(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await run(runner, tls=f"127.0.0.1:{port}")
    finally:
        server.close()
        await server.wait_closed()

    assert result.reason is not None
    assert result.reason.startswith(f"127.0.0.1:{port}: TLS handshake failed: ")


async def test_a_server_that_never_answers_the_handshake_says_so_within_the_timeout(
    runner: CheckRunner, silent_port: int
) -> None:
    result = await run(runner, tls=f"127.0.0.1:{silent_port}", timeout="1s")

    assert (result.ok, result.reason) == (
        False,
        f"127.0.0.1:{silent_port}: TLS handshake not finished within 1s",
    )
    assert result.duration_ms < 1500


async def test_a_refused_port_says_connection_refused(runner: CheckRunner, closed_port: int) -> None:
    result = await run(runner, tls=f"127.0.0.1:{closed_port}")

    assert (result.ok, result.reason) == (False, f"127.0.0.1:{closed_port}: connection refused")


async def test_a_missing_ca_file_is_named(runner: CheckRunner, tmp_path: Path) -> None:
    result = await run(runner, tls="127.0.0.1:443", ca_file=str(tmp_path / "none.pem"))

    assert (result.ok, result.reason) == (False, f"ca_file {tmp_path / 'none.pem'} does not exist")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tls": "https://api.example.com"}, "expected host:port"),
        ({"tls": "api.example.com"}, "expected host:port"),
        ({"tls": "api.example.com:443", "expect": {"days_min": -1}}, "greater than or equal to 0"),
        ({"tls": "api.example.com:443", "expect": {"days": 3}}, "Extra inputs are not permitted"),
    ],
)
def test_a_check_that_cannot_work_is_rejected_when_the_stack_file_is_read(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        TlsCheck.model_validate(fields)

    assert message in str(raised.value)
