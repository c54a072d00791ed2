"""The demo's inbox: what Apprise's ``json://`` posts is kept (the last few only), shown with
its acknowledge link to click, and bad input is refused with one line of JSON."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from vigil.demo.inbox import MAX_BODY, ApprisePage, Inbox, render_inbox
from vigil.demo.stack import inbox_url
from vigil.demo.target import create_target_app
from vigil.notify.apprise import AppriseChannel
from vigil.notify.base import Message, MessageEvent

ACK = "http://127.0.0.1:8484/ack/vga_AbC-123_xyz"
BODY = f"api.health: status 500, expected 200\nhttp://127.0.0.1:8484/incidents/7\nAcknowledge: {ACK}"


def page(title: str = "[P1 TRIGGERED] api.health is failing", message: str = BODY) -> ApprisePage:
    return ApprisePage(title=title, message=message, type="failure")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_target_app(rng=random.Random(7)))
    async with httpx.AsyncClient(transport=transport, base_url="http://target") as client:
        yield client


def test_the_inbox_keeps_only_the_newest_pages() -> None:
    inbox = Inbox(limit=3)
    for n in range(5):
        inbox.add("alice", page(title=f"page {n}"))
    assert [p.title for p in inbox.pages()] == ["page 4", "page 3", "page 2"]


def test_the_page_shows_the_ack_link_to_click_and_escapes_what_it_was_sent() -> None:
    inbox = Inbox()
    inbox.add("bob", page(title="<script>alert(1)</script>"))
    html = render_inbox(inbox)
    assert f'<a class="ack" href="{ACK}">Acknowledge</a>' in html
    assert '<a href="http://127.0.0.1:8484/incidents/7">Open the incident</a>' in html
    assert "incident #7" in html and "to bob" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "line",
    [
        "Acknowledge: javascript:alert(1)//ack/vga_x",
        'Acknowledge: http://x/ack/vga_a" onclick="alert(1)',
        "Acknowledge: http://x/not-an-ack-link",
    ],
)
def test_only_a_plain_http_acknowledge_link_becomes_clickable(line: str) -> None:
    inbox = Inbox()
    received = inbox.add("alice", page(message=f"api.health: down\n{line}"))
    assert received.ack_url is None
    assert 'class="ack"' not in render_inbox(inbox)


async def test_a_page_posted_as_apprise_posts_it_is_listed_newest_first(client: httpx.AsyncClient) -> None:
    for who in ("alice", "bob"):
        body = {
            "version": "1.0",
            "title": f"for {who}",
            "message": BODY,
            "attachments": [],
            "type": "failure",
        }
        assert (await client.post(f"/inbox/{who}", json=body)).status_code == 201
    listed = (await client.get("/inbox.json")).json()["pages"]
    assert [(p["person"], p["title"], p["ack_url"], p["incident_id"]) for p in listed] == [
        ("bob", "for bob", ACK, 7),
        ("alice", "for alice", ACK, 7),
    ]
    html = await client.get("/inbox")
    assert html.headers["content-type"].startswith("text/html")
    assert html.text.count('class="ack"') == 2


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/inbox/al%20ice", b"{}", 404, "no such person"),
        ("/inbox/alice", b"not json", 422, "send what Apprise's json:// sends"),
        ("/inbox/alice", b'{"title": 5}', 422, "title: Input should be a valid string"),
        ("/inbox/alice", b'{"message": "' + b"x" * MAX_BODY + b'"}', 413, f"at most {MAX_BODY} bytes"),
    ],
)
async def test_bad_pages_are_refused_with_one_line_and_not_kept(
    client: httpx.AsyncClient, path: str, body: bytes, status: int, error: str
) -> None:
    response = await client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert error in response.json()["error"]
    assert (await client.get("/inbox.json")).json() == {"pages": []}


async def test_apprise_json_pages_reach_the_target_processes_inbox(target_url: str) -> None:
    channel = AppriseChannel("person:carol/abc", inbox_url(target_url, "carol"))
    payload = {"title": "api.health is failing", "severity": "P1", "check": "api.health", "ack_url": ACK}
    try:
        await channel.send(Message("k1", channel.name, MessageEvent.TRIGGERED, payload))
    finally:
        await channel.close()
    async with httpx.AsyncClient(base_url=target_url) as client:
        [received, *_] = (await client.get("/inbox.json")).json()["pages"]
    assert (received["person"], received["title"], received["type"]) == (
        "carol",
        "[P1 TRIGGERED] api.health is failing",
        "failure",
    )
    assert received["ack_url"] == ACK
