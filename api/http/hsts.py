"""HSTS: `Strict-Transport-Security` on every answer that went over HTTPS, never on plain HTTP.

"Over HTTPS" is the ASGI scope's scheme: uvicorn sets it from the TLS listener, or from a
trusted reverse proxy's X-Forwarded-Proto (`tls.trusted_proxies`). A browser ignores the
header over plain HTTP anyway; not sending it there keeps a LAN test on http:// honest.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.config import TlsSettings


def hsts_value(tls: TlsSettings) -> str | None:
    """The header's value for these settings, or None when HSTS is off (max-age 0)."""
    if tls.hsts_max_age_s <= 0:
        return None
    value = f"max-age={tls.hsts_max_age_s}"
    return f"{value}; includeSubDomains" if tls.hsts_include_subdomains else value


class HstsMiddleware:
    """Adds the HSTS header to HTTP answers whose request came over HTTPS."""

    def __init__(self, app: ASGIApp, value: str) -> None:
        self.app = app
        self.header = (b"strict-transport-security", value.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != self.header[0]
                ]
                message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_with_hsts)
