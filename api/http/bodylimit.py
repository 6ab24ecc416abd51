"""Request bodies capped before they are read: 413 (our JSON error) on a Content-Length over
the limit without reading a byte, and on a streamed body as soon as it passes the limit."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyTooLarge
from api.http.handlers import error_response


class BodyLimit:
    """Pure ASGI middleware: no HTTP request body beyond `limit` bytes reaches the app.

    A declared length over the limit is answered at once (the app is not called); a body
    without one (chunked) is counted as it is received, and past the limit the app's
    `receive` raises BodyTooLarge and whatever the app answers is replaced by the 413.
    The 413 closes the connection, so the rest of the body is never read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return
        guard = _Guard(self.limit, receive, send)
        try:
            await self.app(scope, guard.receive, guard.send)
        except BodyTooLarge:
            if guard.started:
                raise
        if guard.exceeded and not guard.started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(BodyTooLarge(self.limit))
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


class _Guard:
    """The app's receive and send for one request: counts the body, holds back the app's
    answer once the body went over the limit (the 413 replaces it)."""

    def __init__(self, limit: int, receive: Receive, send: Send) -> None:
        self.limit = limit
        self._receive = receive
        self._send = send
        self.received = 0
        self.exceeded = False
        self.started = False

    async def receive(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge(self.limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.exceeded = True
                raise BodyTooLarge(self.limit)
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded:
            return  # the app's answer to a body it could not read whole: ours replaces it
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # ASCII digits only, bounded: anything else is h11's to refuse, not ours to parse.
            if text.isascii() and text.isdigit() and len(text) <= 20:
                return int(text)
            return None
    return None
