"""``dns``: a name resolves, to the expected values, at a named resolver or the system's.

The system's resolvers are the nameservers of ``/etc/resolv.conf`` (not ``/etc/hosts``): the
check is about DNS itself. Answers are compared by meaning: addresses as addresses
(``::1`` is ``0::1``), names without case or final dot, an ``MX`` or ``SRV`` either in full
(``10 mail.example.com``) or by its host alone, ``TXT`` as its strings joined.

Values: ``resolve_ms`` (the query, answer included) and ``answers`` (records in the answer).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from vigil.config.check import CheckBase, StrictModel
from vigil.config.durations import format_duration
from vigil.errors import ProbeError
from vigil.probes.base import Observation, ProbeKind
from vigil.probes.describe import describe_error, step_budget
from vigil.probes.jsonpath import show
from vigil.probes.tcp import parse_address

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.resolver

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV"]
DNS_PORT = 53
_ANSWERS_SHOWN = 5


def _is_name(text: str) -> str:
    labels = text.removesuffix(".").split(".")
    if (
        "://" in text
        or len(text) > 254
        or any(not 0 < len(label) <= 63 for label in labels)
        or any(c.isspace() or c in "/:@" for c in text)
    ):
        raise ValueError(f"expected a DNS name like api.example.com, got {text!r}")
    return text


def parse_resolver(text: str) -> tuple[str, int]:
    """``1.1.1.1``, ``127.0.0.1:5353``, ``::1`` or ``[::1]:5353`` as ``(address, port)``."""
    try:
        return str(ipaddress.ip_address(text)), DNS_PORT
    except ValueError:
        pass
    try:
        host, port = parse_address(text)
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        raise ValueError(
            f"resolver must be an IP address with an optional port, e.g. 1.1.1.1 or 127.0.0.1:5353, got {text!r}"
        ) from None


def _is_resolver(text: str) -> str:
    parse_resolver(text)
    return text


class DnsExpect(StrictModel):
    values: list[Annotated[str, Field(min_length=1, max_length=1024)]] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Values that must each be among the answers; without it, any answer passes.",
    )


class DnsCheck(CheckBase):
    kind: ClassVar[str] = "dns"

    dns: Annotated[str, AfterValidator(_is_name)] = Field(
        description="The name to resolve, e.g. api.example.com."
    )
    type: Annotated[RecordType, BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)] = Field(
        "A", description="Record type: A, AAAA, CNAME, MX, TXT, NS or SRV."
    )
    resolver: Annotated[str, AfterValidator(_is_resolver)] | None = Field(
        None,
        description="A resolver's IP address and optional port, e.g. 127.0.0.1:5353; default: the system's.",
    )
    expect: DnsExpect = Field(default_factory=DnsExpect)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _addresses_are_addresses(self) -> DnsCheck:
        version = {"A": 4, "AAAA": 6}.get(self.type)
        for value in (self.expect.values or []) if version else []:
            try:
                ok = ipaddress.ip_address(value).version == version
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"expect.values: {value!r} is not an IPv{version} address, as {self.type} answers are"
                )
        return self

    @property
    def question(self) -> str:
        """How reasons name what was asked: ``api.example.com A``."""
        return f"{self.dns.removesuffix('.')} {self.type}"


class DnsProbe:
    async def observe(self, check: DnsCheck) -> Observation:
        import dns.exception
        import dns.resolver

        deadline = asyncio.get_running_loop().time() + step_budget(check.timeout)
        resolver = await _resolver(check.resolver)
        servers = _servers(resolver)
        where = ", ".join(servers.values())
        start = time.perf_counter()
        try:
            # dnspython's own lifetime may overrun by a retry's backoff; the deadline may not.
            async with asyncio.timeout_at(deadline):
                resolver.lifetime = max(deadline - asyncio.get_running_loop().time(), 0.001)
                answer = await resolver.resolve(check.dns, check.type, search=False)
        except dns.resolver.NXDOMAIN:
            raise ProbeError(f"{check.dns} does not exist (NXDOMAIN from {where})") from None
        except dns.resolver.NoAnswer:
            raise ProbeError(f"{check.dns} has no {check.type} record (at {where})") from None
        except (TimeoutError, dns.exception.Timeout):
            raise ProbeError(
                f"{check.question}: no answer from {where} within {format_duration(check.timeout)}"
            ) from None
        except dns.resolver.NoNameservers as err:
            raise ProbeError(f"{check.question}: {_failures(err, servers)}") from None
        except dns.exception.DNSException as err:
            raise ProbeError(f"{check.question}: {describe_error(err)}") from None
        resolve_ms = (time.perf_counter() - start) * 1000.0
        found = [_text(record) for record in answer]
        values = {"resolve_ms": round(resolve_ms, 3), "answers": float(len(found))}
        missing = [value for value in check.expect.values or [] if not _among(value, found, check.type)]
        if not missing:
            return Observation.passed(**values)
        shown = ", ".join(_show(found, check.type))
        wanted = ", ".join(_show(missing, check.type))
        return Observation.failed(f"{check.question} answered {shown}; expected {wanted}", **values)

    async def close(self) -> None:
        return None


async def _resolver(address: str | None) -> dns.asyncresolver.Resolver:
    import dns.asyncresolver
    import dns.nameserver
    import dns.resolver

    if address is None:
        try:
            # resolv.conf is read each time, so that a changed one is seen at the next run.
            resolver = await asyncio.to_thread(dns.asyncresolver.Resolver)
        except dns.resolver.NoResolverConfiguration:
            raise ProbeError(
                "the system has no resolver configured (/etc/resolv.conf); name one in resolver"
            ) from None
        servers = [(str(server), resolver.port) for server in resolver.nameservers]
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        servers = [parse_resolver(address)]
    # As objects, which name their address and port, rather than text that dnspython converts.
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
    return resolver


def _servers(resolver: dns.resolver.BaseResolver) -> dict[str, str]:
    """Each nameserver as dnspython names it in errors, and as a reason names it."""
    from dns.nameserver import Nameserver

    return {
        str(server): _where(server.answer_nameserver(), server.answer_port())
        for server in resolver.nameservers
        if isinstance(server, Nameserver)
    }


def _where(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return host if port == DNS_PORT else f"{host}:{port}"


def _failures(err: Any, servers: dict[str, str]) -> str:
    """What each resolver said, once each: ``127.0.0.1:5353 answered SERVFAIL``."""
    said: dict[str, None] = {}
    for server, _tcp, port, what, *_ in err.kwargs.get("errors", []):
        text = describe_error(what) if isinstance(what, BaseException) else str(what)
        said[f"{servers.get(server) or _where(server, port)} answered {text}"] = None
    return "; ".join(said) or "no resolver answered"


def _text(record: Any) -> str:
    """One record as the stack file would write it."""
    rdtype = record.rdtype.name
    if rdtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(record.address))
    if rdtype in ("CNAME", "NS"):
        return _name(record.target.to_text())
    if rdtype == "MX":
        return f"{record.preference} {_name(record.exchange.to_text())}"
    if rdtype == "SRV":
        return f"{record.priority} {record.weight} {record.port} {_name(record.target.to_text())}"
    if rdtype == "TXT":
        return b"".join(record.strings).decode("utf-8", errors="replace")
    return str(record.to_text())


def _name(text: str) -> str:
    return text.removesuffix(".").lower()


def _among(expected: str, found: list[str], rdtype: str) -> bool:
    if rdtype == "TXT":
        return expected in found
    if rdtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(expected)) in found
    *numbers, host = expected.split()
    wanted = " ".join([*numbers, _name(host)])
    if rdtype in ("MX", "SRV") and " " not in wanted:  # the host alone
        return any(value.rsplit(" ", 1)[-1] == wanted for value in found)
    return wanted in found


def _show(values: list[str], rdtype: str) -> list[str]:
    shown = [show(value) if rdtype == "TXT" else value for value in values[:_ANSWERS_SHOWN]]
    if len(values) > _ANSWERS_SHOWN:
        shown.append(f"and {len(values) - _ANSWERS_SHOWN} more")
    return shown


KIND = ProbeKind("dns", DnsCheck, DnsProbe, loads=("dns.asyncresolver",))
