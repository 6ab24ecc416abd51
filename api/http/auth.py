"""Who a request to /api/v1 acts for. An address that sent wrong credentials too often
waits first (`AuthThrottle`: 429, its credentials not even checked); then, in this order:

1. `Authorization: Bearer <token>`: the config's `api_tokens` (service tokens, for no user;
   compared in constant time), then users' API tokens (found by their hash).
2. The session cookie (`doorbell_session`), set at sign-in. Requests with an unsafe method
   must also send the session's `X-CSRF-Token`, which another site cannot read.
3. A URL signed by this server (`exp` + `sig`), for players that cannot send headers.

A cookie that no longer signs anyone in is ignored, so a signed URL opened by a browser that
still holds an expired cookie works as it did before.

Counted as failures against the address: an unknown bearer token, a cookie that signs no one
in (when nothing else does), a URL signature that does not verify. Not counted: no
credentials at all, an expired signed URL (its signature verified), a missing CSRF token.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Literal

from fastapi import Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api.accounts.limiter import AuthThrottle
from api.accounts.model import SignedIn
from api.accounts.sessions import Sessions
from api.accounts.tokens import ApiTokens
from api.config import Settings
from api.errors import Forbidden, Unauthorized
from api.http.signing import UrlSigner

SESSION_COOKIE = "doorbell_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# A request's principal: a user (by session or API token), or no user at all.
Principal = SignedIn | Literal["service_token", "signed_url"]

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="a service token from the server's api_tokens, or a user's API token",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="the session cookie set by POST /api/v1/session; unsafe methods also need "
    f"the session's {CSRF_HEADER} header",
)


def client_address(request: Request) -> str:
    """The address a request's failures are counted against: the peer uvicorn reports.
    Behind a reverse proxy that uvicorn trusts (its `forwarded_allow_ips`, 127.0.0.1 by
    default) that is the proxy's X-Forwarded-For; a trusted-proxy setting belongs here."""
    return request.client.host if request.client else "unknown"


def matches_any(candidate: str, secrets: Iterable[str]) -> bool:
    """True if `candidate` equals one of `secrets`; every secret is compared in constant time."""
    given = candidate.encode()
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(given, secret.encode())
    return found


async def authenticate(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None,
    cookie: str | None,
    *,
    settings: Settings,
    signer: UrlSigner,
    sessions: Sessions,
    tokens: ApiTokens,
    throttle: AuthThrottle,
) -> Principal:
    """The principal of `request`, or Unauthorized/Forbidden saying what is wrong;
    TooManyFailures first while its address must wait."""
    address = client_address(request)
    throttle.check(address)
    if bearer is not None:
        service_tokens = [t.get_secret_value() for t in settings.api_tokens]
        if matches_any(bearer.credentials, service_tokens):
            return "service_token"
        user = await tokens.authenticate(bearer.credentials)
        if user is not None:
            return user
        throttle.failed(address, "bearer token")
        raise Unauthorized("invalid bearer token", 'Bearer error="invalid_token"')
    if cookie:
        user = await sessions.current(cookie)
        if user is not None:
            _check_csrf(request, user)
            return user
    query = request.query_params
    if "sig" in query or "exp" in query:
        verdict = signer.verify(request.url.path, dict(query))
        if verdict == "ok":
            return "signed_url"
        if verdict == "expired":
            raise Forbidden("signed URL expired")
        throttle.failed(address, "URL signature")
        raise Forbidden("invalid URL signature")
    if cookie:
        throttle.failed(address, "session cookie")
        raise Unauthorized("the session has expired or was ended: sign in again")
    raise Unauthorized(
        "not signed in: sign in (POST /api/v1/session), send 'Authorization: Bearer <token>', "
        "or use a signed URL"
    )


def _check_csrf(request: Request, user: SignedIn) -> None:
    """A cookie is sent by the browser whoever made the request; the CSRF token only by
    our app, which read it from the session."""
    if request.method in SAFE_METHODS or user.session is None:
        return
    given = request.headers.get(CSRF_HEADER, "").encode()
    if not hmac.compare_digest(given, user.session.csrf_token.encode()):
        raise Forbidden(
            f"missing or wrong {CSRF_HEADER}: with the session cookie, {request.method} needs "
            "the header with the session's csrf_token (from GET /api/v1/session)"
        )


def require_user(principal: Principal) -> SignedIn:
    """The signed-in user; Forbidden for a service token or a signed URL, which have none."""
    if isinstance(principal, SignedIn):
        return principal
    what = "a service token" if principal == "service_token" else "a signed URL"
    raise Forbidden(
        f"this needs a signed-in user (a session or a user's API token), not {what}: "
        "sessions, passwords and API tokens belong to users"
    )
