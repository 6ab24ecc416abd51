"""Bearer-token and shared-secret checks, constant time."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer


def matches_any(candidate: str, secrets: Iterable[str]) -> bool:
    """True if `candidate` equals one of `secrets`; every secret is compared in constant time."""
    given = candidate.encode()
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given, secret.encode())
    return found


class BearerAuth(HTTPBearer):
    """Dependency for /api/v1: `Authorization: Bearer <token>` against the configured tokens."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, description="a token from the server's api_tokens")

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials:  # type: ignore[override]
        credentials = await super().__call__(request)
        tokens = request.state.services.api_tokens
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not matches_any(credentials.credentials, tokens):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid bearer token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return credentials
