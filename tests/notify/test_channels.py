"""Each channel kind against real endpoints: stderr, an aiohttp receiver, Apprise over real HTTP."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import time

import pytest

import vigil.notify
from tests.conftest import free_port
from tests.notify.conftest import Receiver, message
from vigil import __version__
from vigil.config.notify import ChannelConfig, NotifySettings
from vigil.notify.apprise import AppriseChannel
from vigil.notify.base import ChannelKind, DeliveryError, MessageEvent
from vigil.notify.log import LogChannel
from vigil.notify.registry import CHANNELS, build_channels
from vigil.notify.webhook import WebhookChannel, shown_url

TARGETS = {
    "log": True,
    "webhook": "http://127.0.0.1:9/hook",
    "apprise": "json://127.0.0.1:9/hook",
    "pagerduty": {"routing_key": "k"},
    "opsgenie": {"api_key": "k"},
}


def test_every_channel_module_with_a_kind_is_in_the_registry() -> None:
    declared = set()
    for module_info in pkgutil.iter_modules(vigil.notify.__path__):
        module = importlib.import_module(f"vigil.notify.{module_info.name}")
        if isinstance(getattr(module, "KIND", None), ChannelKind):
            declared.add(module.KIND.name)
    assert declared == set(CHANNELS) == set(TARGETS)


async def test_each_configured_channel_is_built_under_its_own_name() -> None:
    settings = NotifySettings.model_validate(
        {
            "channels": {
                "ops-hook": {"webhook": TARGETS["webhook"]},
                "ops-log": {"log": True},
                "chat": {"apprise": "json://x/y"},
            }
        }
    )
    channels = build_channels(settings)
    assert {name: type(c) for name, c in channels.items()} == {
        "ops-hook": WebhookChannel,
        "ops-log": LogChannel,
        "chat": AppriseChannel,
    }
    for channel in channels.values():
        await channel.close()


@pytest.mark.parametrize("kind", sorted(CHANNELS))
async def test_each_channel_kind_can_be_closed_without_having_sent(kind: str) -> None:
    channel = CHANNELS[kind].factory("ops", ChannelConfig.model_validate({kind: TARGETS[kind]}))
    await channel.close()


async def test_the_log_channel_writes_one_json_line_per_message_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    channel = LogChannel("ops-log")
    await channel.send(message("incident-7-triggered-ops-log", "ops-log"))
    await channel.send(message("incident-7-resolved-ops-log", "ops-log", MessageEvent.RESOLVED))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == {
        "notify": "ops-log",
        "event": "triggered",
        "key": "incident-7-triggered-ops-log",
        "title": "api.health is failing",
        "severity": "P1",
        "service": "api",
        "check": "api.health",
        "reason": "status 503, expected 200",
        "url": "http://vigil.local/incidents/7",
        "incident_id": 7,
    }
    assert json.loads(lines[1])["event"] == "resolved"


async def test_a_webhook_posts_the_payload_with_its_idempotency_key_and_headers(receiver: Receiver) -> None:
    channel = WebhookChannel("ops-hook", receiver.url, {"Authorization": "Bearer t0ken"})
    try:
        await channel.send(message("incident-7-triggered-ops-hook"))
    finally:
        await channel.close()
    [(headers, body)] = receiver.accepted
    assert headers["Idempotency-Key"] == "incident-7-triggered-ops-hook"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"vigil/{__version__}"
    assert headers["Authorization"] == "Bearer t0ken"
    assert body["idempotency_key"] == "incident-7-triggered-ops-hook"
    assert body["event"] == "triggered"
    assert body["title"] == "api.health is failing"
    assert body["incident_id"] == 7


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (500, False),
        (503, False),
        (408, False),
        (425, False),
        (429, False),
        (404, True),
        (400, True),
        (401, True),
        (301, True),
    ],
)
async def test_a_webhook_answer_other_than_2xx_says_whether_retrying_can_help(
    receiver: Receiver, status: int, permanent: bool
) -> None:
    receiver.status = status
    channel = WebhookChannel("ops-hook", receiver.url)
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message("k"))
    finally:
        await channel.close()
    assert caught.value.permanent is permanent
    assert str(caught.value) == f"webhook {receiver.shown} answered {status}"


async def test_an_unreachable_webhook_is_worth_retrying() -> None:
    port = free_port()
    channel = WebhookChannel("ops-hook", f"http://127.0.0.1:{port}/hook")
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message("k"))
    finally:
        await channel.close()
    assert not caught.value.permanent
    assert str(caught.value) == f"webhook http://127.0.0.1:{port}/… unreachable: connection refused"


async def test_a_webhook_that_does_not_answer_in_time_is_worth_retrying(receiver: Receiver) -> None:
    receiver.delay = 2.0
    channel = WebhookChannel("ops-hook", receiver.url, timeout=0.2)
    try:
        with pytest.raises(DeliveryError, match=r"did not answer within 0\.2s") as caught:
            await channel.send(message("k"))
    finally:
        await channel.close()
    assert not caught.value.permanent


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/hook", "127.0.0.1:9/hook", "http:///hook", "http://[::1/hook", "http://h:99999/"]
)
async def test_a_webhook_url_that_is_not_http_fails_permanently(url: str) -> None:
    channel = WebhookChannel("ops-hook", url)
    with pytest.raises(DeliveryError, match="is not an http") as caught:
        await channel.send(message("k"))
    await channel.close()
    assert caught.value.permanent


@pytest.mark.parametrize("down", [False, True])
async def test_a_webhook_error_never_shows_the_urls_password_or_query(receiver: Receiver, down: bool) -> None:
    port = free_port() if down else receiver.port
    receiver.status = 500
    channel = WebhookChannel("ops-hook", f"http://vigil:hunter22@127.0.0.1:{port}/hook?token=s3cret")
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message("k"))
    finally:
        await channel.close()
    text = str(caught.value)
    assert "hunter22" not in text
    assert "s3cret" not in text
    assert text.startswith(f"webhook http://127.0.0.1:{port}/… ")
    assert "\n" not in text


def test_a_shown_url_keeps_scheme_host_and_port_and_hides_the_path_that_may_hold_a_token() -> None:
    assert shown_url("https://u:p@[::1]:8443/a/b?x=1#f") == "https://[::1]:8443/…"
    assert shown_url("https://hooks.slack.test/services/T0/B0/sekr1t") == "https://hooks.slack.test/…"
    assert shown_url("http://hooks.local") == "http://hooks.local"


async def test_apprise_delivers_through_its_json_scheme_to_a_real_receiver(receiver: Receiver) -> None:
    channel = AppriseChannel("chat", f"json://127.0.0.1:{receiver.port}/hook")
    try:
        await channel.send(message("incident-7-triggered-chat", "chat"))
    finally:
        await channel.close()
    [(_, body)] = receiver.accepted
    assert body["title"] == "[P1 TRIGGERED] api.health is failing"
    assert body["message"] == "api.health: status 503, expected 200\nhttp://vigil.local/incidents/7"
    assert body["type"] == "failure"


@pytest.mark.parametrize("url", ["nope://somewhere", "not a url at all"])
async def test_an_apprise_url_it_does_not_accept_fails_permanently(url: str) -> None:
    channel = AppriseChannel("chat", url)
    try:
        with pytest.raises(DeliveryError, match="Apprise does not accept this URL") as caught:
            await channel.send(message("k", "chat"))
    finally:
        await channel.close()
    assert caught.value.permanent


async def test_an_apprise_service_that_refuses_is_retried_with_a_one_line_reason(receiver: Receiver) -> None:
    receiver.status = 503
    channel = AppriseChannel("chat", f"json://vigil:hunter22@127.0.0.1:{receiver.port}/hook")
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message("k", "chat"))
    finally:
        await channel.close()
    text = str(caught.value)
    assert not caught.value.permanent
    assert text.startswith("apprise json://… failed: ")
    assert "503" in text or "Unavailable" in text
    assert "hunter22" not in text
    assert "\n" not in text


async def test_apprise_sends_off_the_event_loop(receiver: Receiver) -> None:
    # The receiver runs on this loop: if Apprise blocked it, the request could not even be answered.
    receiver.delay = 0.5
    channel = AppriseChannel("chat", f"json://127.0.0.1:{receiver.port}/hook")
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    ticking = asyncio.create_task(ticker())
    try:
        await channel.send(message("k", "chat"))
    finally:
        ticking.cancel()
        await channel.close()
    assert len(receiver.accepted) == 1
    assert max(gaps) < 0.25
