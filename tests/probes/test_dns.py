"""The ``dns`` probe against a real DNS server this test runs (dnslib's) on a free UDP port,
and a UDP socket that never answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer
from pydantic import ValidationError

from vigil.engine.runner import CheckRunner, CheckSpec
from vigil.probes.base import Result
from vigil.probes.dns import DnsCheck

ZONE = """
api.example.com.   60 IN A     10.0.0.1
api.example.com.   60 IN A     10.0.0.2
api.example.com.   60 IN TXT   "v=spf1 " "include:mail.example.com -all"
api.example.com.   60 IN MX    10 Mail.Example.com.
www.example.com.   60 IN CNAME api.example.com.
v6.example.com.    60 IN AAAA  2001:db8::1
_sip._tcp.example.com. 60 IN SRV 10 5 5060 sip.example.com.
"""


class Zone(BaseResolver):
    """Answers from ``ZONE``; names it does not hold are NXDOMAIN, ``broken.example.com`` SERVFAIL."""

    def __init__(self) -> None:
        self.records = RR.fromZone(ZONE)

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name, qtype = request.q.qname, QTYPE[request.q.qtype]
        if name == "broken.example.com.":
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        held = [record for record in self.records if record.rname == name]
        if not held:
            reply.header.rcode = RCODE.NXDOMAIN
        for record in held:
            if QTYPE[record.rtype] in (qtype, "CNAME"):
                reply.add_answer(record)
        return reply


@pytest.fixture(scope="module")
def resolver() -> Iterator[str]:
    server = DNSServer(Zone(), address="127.0.0.1", port=0, logger=DNSLogger(logf=lambda _text: None))
    server.start_thread()
    yield f"127.0.0.1:{server.server.server_address[1]}"
    server.stop()
    server.server.server_close()


@pytest.fixture
def silent_resolver() -> Iterator[str]:
    """A UDP port that takes every query and answers none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


async def run(runner: CheckRunner, **fields: Any) -> Result:
    return await runner.run(CheckSpec("api", "dns", DnsCheck.model_validate(fields)))


async def test_a_name_that_resolves_passes_with_its_answers_counted(
    runner: CheckRunner, resolver: str
) -> None:
    result = await run(runner, dns="api.example.com", resolver=resolver)

    assert (result.ok, result.reason) == (True, None)
    assert result.values["answers"] == 2
    assert 0 < result.values["resolve_ms"] < 1000


@pytest.mark.parametrize(
    ("name", "rdtype", "values"),
    [
        ("api.example.com", "A", ["10.0.0.2"]),
        ("api.example.com", "A", ["10.0.0.1", "10.0.0.2"]),
        ("v6.example.com", "AAAA", ["2001:db8:0::1"]),
        ("api.example.com", "TXT", ["v=spf1 include:mail.example.com -all"]),
        ("api.example.com", "MX", ["10 mail.example.com"]),
        ("api.example.com", "mx", ["MAIL.example.com."]),
        ("www.example.com", "CNAME", ["api.example.com"]),
        ("_sip._tcp.example.com", "SRV", ["10 5 5060 sip.example.com"]),
        ("_sip._tcp.example.com", "SRV", ["sip.example.com"]),
    ],
)
async def test_expected_values_are_found_among_the_answers_by_meaning(
    runner: CheckRunner, resolver: str, name: str, rdtype: str, values: list[str]
) -> None:
    result = await run(runner, dns=name, type=rdtype, resolver=resolver, expect={"values": values})

    assert (result.ok, result.reason) == (True, None)


async def test_a_missing_value_names_what_was_answered_and_what_was_expected(
    runner: CheckRunner, resolver: str
) -> None:
    result = await run(
        runner, dns="api.example.com", resolver=resolver, expect={"values": ["10.0.0.1", "10.0.0.9"]}
    )

    assert (result.ok, result.reason) == (
        False,
        "api.example.com A answered 10.0.0.1, 10.0.0.2; expected 10.0.0.9",
    )
    assert result.values["answers"] == 2


async def test_a_wrong_txt_record_is_shown_quoted(runner: CheckRunner, resolver: str) -> None:
    result = await run(
        runner, dns="api.example.com", type="TXT", resolver=resolver, expect={"values": ["v=spf1"]}
    )

    assert result.reason == (
        'api.example.com TXT answered "v=spf1 include:mail.example.com -all"; expected "v=spf1"'
    )


async def test_a_name_that_does_not_exist_says_nxdomain(runner: CheckRunner, resolver: str) -> None:
    result = await run(runner, dns="nope.example.com", resolver=resolver)

    assert (result.ok, result.reason) == (
        False,
        f"nope.example.com does not exist (NXDOMAIN from {resolver})",
    )


async def test_a_name_without_records_of_the_type_says_so(runner: CheckRunner, resolver: str) -> None:
    result = await run(runner, dns="v6.example.com", type="A", resolver=resolver)

    assert (result.ok, result.reason) == (
        False,
        f"v6.example.com has no A record (at {resolver})",
    )


async def test_a_resolver_that_fails_says_what_it_answered(runner: CheckRunner, resolver: str) -> None:
    result = await run(runner, dns="broken.example.com", resolver=resolver)

    assert (result.ok, result.reason) == (False, f"broken.example.com A: {resolver} answered SERVFAIL")


async def test_a_resolver_that_never_answers_says_so_within_the_timeout(
    runner: CheckRunner, silent_resolver: str
) -> None:
    result = await run(runner, dns="api.example.com", resolver=silent_resolver, timeout="1s")

    assert (result.ok, result.reason) == (
        False,
        f"api.example.com A: no answer from {silent_resolver} within 1s",
    )
    assert result.duration_ms < 1500


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dns": "https://api.example.com"}, "expected a DNS name like api.example.com"),
        ({"dns": "api..example.com"}, "expected a DNS name like api.example.com"),
        ({"dns": "a" * 64 + ".example.com"}, "expected a DNS name like api.example.com"),
        ({"dns": "api.example.com", "type": "PTR"}, "Input should be 'A', 'AAAA'"),
        ({"dns": "api.example.com", "resolver": "dns.google"}, "resolver must be an IP address"),
        ({"dns": "api.example.com", "resolver": "1.1.1.1:99999"}, "resolver must be an IP address"),
        ({"dns": "x.example.com", "expect": {"values": ["mail"]}}, "'mail' is not an IPv4 address"),
        ({"dns": "x.example.com", "type": "AAAA", "expect": {"values": ["10.0.0.1"]}}, "not an IPv6 address"),
        ({"dns": "x.example.com", "expect": {"values": []}}, "at least 1 item"),
    ],
)
def test_a_check_that_cannot_work_is_rejected_when_the_stack_file_is_read(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        DnsCheck.model_validate(fields)

    assert message in str(raised.value)


@pytest.mark.parametrize("text", ["1.1.1.1", "127.0.0.1:5353", "::1", "[::1]:5353"])
def test_a_resolver_is_an_ip_address_with_an_optional_port(text: str) -> None:
    assert DnsCheck.model_validate({"dns": "example.com", "resolver": text}).resolver == text
