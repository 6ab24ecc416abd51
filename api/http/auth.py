"""Access to /api/v1: a bearer token, or a signed URL (`exp` + `sig`); constant-time checks."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Forbidden, Unauthorized
from api.http.deps import get_settings, get_signer


def matches_any(candidate: str, secrets: Iterable[str]) -> bool:
    """True if `candidate` equals one of `secrets`; every secret is compared in constant time."""
    given = candidate.encode()
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given, secret.encode())
    return found


class Access(HTTPBearer):
    """Dependency for /api/v1: `Authorization: Bearer <token>` against the configured tokens,
    or, for players that cannot send headers, a URL signed by this server."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, description="a token from the server's api_tokens")

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is not None:
            tokens = [t.get_secret_value() for t in get_settings(request).api_tokens]
            if matches_any(credentials.credentials, tokens):
                return credentials
            raise Unauthorized("invalid bearer token", 'Bearer error="invalid_token"')
        query = request.query_params
        if "sig" in query or "exp" in query:
            verdict = get_signer(request).verify(request.url.path, dict(query))
            if verdict == "ok":
                return None
            raise Forbidden(
                "signed URL expired" if verdict == "expired" else "invalid URL signature"
            )
        raise Unauthorized(
            "missing bearer token: send 'Authorization: Bearer <token>' or use a signed URL"
        )
