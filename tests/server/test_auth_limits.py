"""Guessing is not free, and a form posted from elsewhere is refused.

Failed bearer tokens and sign-ins are counted per client address: past the limit the address
is answered 429 with Retry-After (even for a right token) and one log line says so; the fake
clock moves the window on. Dashboard forms carry a CSRF token bound to the session by an HMAC
and must come from this dashboard's origin.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import sqlite_store_url
from vigil.config.load import parse_stack
from vigil.engine.clock import FakeClock
from vigil.server.app import create_app
from vigil.server.guesses import LIMIT, WINDOW, Guesses
from vigil.server.runtime import Runtime
from vigil.server.tokens import Role, create_token
from vigil.store.database import open_database

STACK = """
services:
  api:
    checks:
      health: {http: "http://127.0.0.1:9/health", alert: {after: 1}}
"""


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    engine = await open_database(await sqlite_store_url(tmp_path / "v.db"))
    runtime = Runtime(parse_stack("vigil.yaml", STACK, {}), engine, clock=FakeClock())
    await runtime.failures.load()
    yield runtime
    await engine.dispose()


def client_from(runtime: Runtime, address: str, app: object | None = None) -> httpx.AsyncClient:
    app = app or create_app(runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://vigil.test")


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


async def test_wrong_bearer_tokens_are_answered_429_past_the_limit_with_one_log_line(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(runtime, manage_runtime=False)
    right = await create_token(runtime.engine, runtime.clock, "vera", Role.VIEWER)
    caplog.set_level(logging.WARNING, logger="vigil.auth")
    async with (
        client_from(runtime, "203.0.113.7", app) as guesser,
        client_from(runtime, "198.51.100.2", app) as other,
    ):
        statuses = [
            (
                await guesser.get("/api/v1/incidents", headers={"Authorization": f"Bearer vgl_guess{i}"})
            ).status_code
            for i in range(200)
        ]
        assert statuses[:LIMIT] == [401] * LIMIT
        assert set(statuses[LIMIT:]) == {429}
        limited = await guesser.get("/api/v1/incidents", headers={"Authorization": f"Bearer {right}"})
        assert limited.status_code == 429, "a right token must not tell itself apart while limited"
        assert "too many failed tokens" in limited.json()["error"]
        assert 1 <= int(limited.headers["Retry-After"]) <= WINDOW
        # Another address is not punished for this one's guesses.
        assert (
            await other.get("/api/v1/incidents", headers={"Authorization": f"Bearer {right}"})
        ).status_code == 200

        lines = [r.getMessage() for r in caplog.records if r.name == "vigil.auth"]
        assert len(lines) == 1
        assert "203.0.113.7" in lines[0]

        await runtime.clock.advance(WINDOW + 1)  # type: ignore[attr-defined]
        ok = await guesser.get("/api/v1/incidents", headers={"Authorization": f"Bearer {right}"})
        assert ok.status_code == 200


async def test_wrong_sign_ins_are_answered_429_past_the_limit(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vigil.auth")
    async with client_from(runtime, "203.0.113.9") as client:
        csrf = csrf_of(await client.get("/login"))
        statuses = [
            (await client.post("/login", data={"token": f"vgl_guess{i}", "csrf": csrf})).status_code
            for i in range(60)
        ]
        assert statuses[:LIMIT] == [401] * LIMIT
        assert set(statuses[LIMIT:]) == {429}
        last = await client.post("/login", data={"token": "vgl_guess", "csrf": csrf})
        assert "Retry-After" in last.headers
        assert "Too many failed tokens or sign-ins" in last.text
    assert len([r for r in caplog.records if r.name == "vigil.auth"]) == 1


async def test_the_table_of_addresses_stays_bounded() -> None:
    clock = FakeClock()
    guesses = Guesses(clock, limit=3, addresses=100)
    for i in range(5000):
        guesses.failed(f"10.0.{i // 256}.{i % 256}", "bearer token")
    assert len(guesses._failures) == 100
    for _ in range(3):
        guesses.failed("10.9.9.9", "sign-in")
    with pytest.raises(Exception, match="try again in"):
        guesses.check("10.9.9.9")


async def signed_in(client: httpx.AsyncClient, runtime: Runtime) -> str:
    token = await create_token(runtime.engine, runtime.clock, "rita", Role.RESPONDER)
    answer = await client.post("/login", data={"token": token, "csrf": csrf_of(await client.get("/login"))})
    assert answer.status_code == 303
    return csrf_of(await client.get("/"))


async def open_incident(runtime: Runtime) -> int:
    from vigil.probes.base import Result

    await runtime.flow(Result("api.health", False, 5.0, runtime.clock.now(), "status 500, expected 200"))
    [incident] = await runtime.incidents.list()
    return incident.id


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.test"}, {"Referer": "http://evil.test/page"}, {"Origin": "null"}],
    ids=["foreign Origin", "foreign Referer", "opaque Origin"],
)
async def test_a_form_from_another_origin_is_refused_even_with_the_right_csrf_token(
    runtime: Runtime, headers: dict[str, str]
) -> None:
    incident = await open_incident(runtime)
    async with client_from(runtime, "127.0.0.1") as client:
        csrf = await signed_in(client, runtime)
        refused = await client.post(
            f"/incidents/{incident}/acknowledge", data={"csrf": csrf}, headers=headers
        )
        assert refused.status_code == 403
        assert "CSRF check failed" in refused.text
        assert (await runtime.incidents.get(incident)).status == "triggered"
        same = {"Origin": "http://vigil.test", "Referer": "http://vigil.test/"}
        done = await client.post(f"/incidents/{incident}/acknowledge", data={"csrf": csrf}, headers=same)
        assert done.status_code == 303
        assert (await runtime.incidents.get(incident)).status == "acknowledged"


async def test_a_planted_cookie_and_field_pair_does_not_pass(runtime: Runtime) -> None:
    incident = await open_incident(runtime)
    async with client_from(runtime, "127.0.0.1") as client:
        await signed_in(client, runtime)
        # What beat plain double-submit: the attacker sets a cookie and sends the same value.
        planted = "p" * 43
        client.cookies.set("vigil_session", planted)
        client.cookies.set("vigil_csrf", planted)
        refused = await client.post(f"/incidents/{incident}/acknowledge", data={"csrf": planted})
        assert refused.status_code == 403
        assert (await runtime.incidents.get(incident)).status == "triggered"


async def test_a_csrf_token_is_good_only_for_its_own_session(runtime: Runtime) -> None:
    incident = await open_incident(runtime)
    app = create_app(runtime, manage_runtime=False)
    async with (
        client_from(runtime, "127.0.0.1", app) as alice,
        client_from(runtime, "127.0.0.2", app) as mallory,
    ):
        await signed_in(alice, runtime)
        mallorys = csrf_of(await mallory.get("/login"))  # a valid token, of another session
        refused = await alice.post(f"/incidents/{incident}/acknowledge", data={"csrf": mallorys})
        assert refused.status_code == 403
