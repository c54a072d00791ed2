"""Every answer the server gives passes through the stack file's redactor.

Views mask what they know to be sensitive (a check's target); this is the net under them:
an incident title, a timeline line, a silence's comment or any answer added later cannot show
a value that came from the environment, because the body is masked on its way out.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.config.secrets import Redactor

# Bodies a person or a program reads; static files (htmx, the stylesheet) hold no secrets.
TEXT_TYPES = (
    b"application/json",
    b"text/html",
    b"text/plain",
    b"application/openmetrics-text",
    b"text/calendar",
)


class RedactingMiddleware:
    def __init__(self, app: ASGIApp, redactor: Redactor) -> None:
        self.app = app
        self.redactor = redactor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.redactor.secrets:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def masked(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(TEXT_TYPES):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = self.redactor(b"".join(chunks).decode("utf-8", "surrogateescape")).encode(
                    "utf-8", "surrogateescape"
                )
                headers = MutableHeaders(raw=start["headers"])
                headers["content-length"] = str(len(body))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, masked)
