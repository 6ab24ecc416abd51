"""Security headers on every response (an ASGI middleware), each added unless the response
set its own: the web app's pages carry their stricter-fitting CSP (`api.http.webapp`).

- `X-Content-Type-Options: nosniff`: a JSON error quoting a value is never read as HTML.
- `Referrer-Policy: no-referrer`: signed URLs carry their `exp` and `sig` in the query, and
  the app needs no referrer from anyone; `same-origin` would still hand a signed URL to any
  page of this origin that logs referrers, so none is sent at all.
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: nothing of this server is framed.
- `Content-Security-Policy`: for what is not a page, `default-src 'none'` (an API answer
  opened in a browser runs and loads nothing); for JavaScript, the app's policy, as a worker
  script (the service worker) runs under the CSP it is served with.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOTHING_CSP = "default-src 'none'; frame-ancestors 'none'"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Adds `HEADERS` and a CSP (`script_csp` for JavaScript, `NOTHING_CSP` otherwise) to
    every HTTP response that did not set them."""

    def __init__(self, app: ASGIApp, script_csp: str) -> None:
        self.app, self.script_csp = app, script_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.add(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def add(self, headers: MutableHeaders) -> None:
        for name, value in HEADERS.items():
            headers.setdefault(name, value)
        script = "javascript" in headers.get("content-type", "")
        headers.setdefault("Content-Security-Policy", self.script_csp if script else NOTHING_CSP)
