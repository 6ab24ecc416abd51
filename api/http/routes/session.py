"""Signing in and out, the signed-in user's sessions, and their password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.accounts.model import SessionRecord, SignedIn, UserRecord
from api.accounts.passwords import MAX_NAME_LEN, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN
from api.errors import Forbidden, NotFound
from api.http.auth import CSRF_HEADER, SESSION_COOKIE
from api.http.deps import AuthFirstRoute, SessionsDep, UserDep
from api.http.handlers import error_responses

# Sign-in needs no credentials: it is outside /api/v1's authenticated router.
public = APIRouter(tags=["session"])
router = APIRouter(tags=["session"], route_class=AuthFirstRoute)


class SignInIn(BaseModel):
    username: str = Field(min_length=1, max_length=MAX_NAME_LEN)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LEN)


class UserOut(BaseModel):
    name: str


class SessionOut(BaseModel):
    id: str = Field(description="the session's id (not the cookie)")
    user: UserOut
    csrf_token: str = Field(
        description=f"send it as {CSRF_HEADER} with every POST, PUT, PATCH or DELETE"
    )
    expires_ms: int = Field(description="when the session ends unless used again (sliding)")


class SessionItem(BaseModel):
    id: str
    created_ms: int
    last_seen_ms: int = Field(description="updated at most once a minute")
    expires_ms: int
    user_agent: str | None
    address: str | None = Field(description="where it signed in from")
    current: bool = Field(description="the session of this request")


class SessionList(BaseModel):
    sessions: list[SessionItem]


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LEN)
    new_password: str = Field(min_length=MIN_PASSWORD_LEN, max_length=MAX_PASSWORD_LEN)


def _session_out(session: SessionRecord, user: UserRecord) -> SessionOut:
    return SessionOut(
        id=session.id,
        user=UserOut(name=user.name),
        csrf_token=session.csrf_token,
        expires_ms=session.expires_ms,
    )


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


@public.post(
    "/session",
    summary="Sign in: sets the session cookie",
    responses=error_responses(
        401,
        422,
        429,
        503,
        _401="wrong username or password",
        _503="too many sign-ins being checked at once: retry after Retry-After",
    ),
)
async def sign_in(
    body: SignInIn, request: Request, response: Response, sessions: SessionsDep
) -> SessionOut:
    """Sets `doorbell_session` (HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS). The
    answer's `csrf_token` goes in `X-CSRF-Token` on every unsafe request."""
    new = await sessions.sign_in(
        body.username, body.password, _address(request), request.headers.get("user-agent")
    )
    response.set_cookie(
        SESSION_COOKIE,
        new.cookie,
        max_age=new.cookie_max_age_s,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return _session_out(new.session, new.user)


def _current_session(user: SignedIn) -> SessionRecord:
    if user.session is None:
        raise Forbidden("this request is signed in with an API token, not a session")
    return user.session


@router.get("/session", summary="The session of this request")
async def current_session(user: UserDep) -> SessionOut:
    return _session_out(_current_session(user), user.user)


@router.delete("/session", status_code=204, summary="Sign out: ends this session")
async def sign_out(
    user: UserDep, request: Request, response: Response, sessions: SessionsDep
) -> None:
    await sessions.sign_out(_current_session(user))
    _clear_cookie(response, request)


@router.get("/sessions", summary="The signed-in user's sessions, most recently seen first")
async def list_sessions(user: UserDep, sessions: SessionsDep) -> SessionList:
    current = user.session.id if user.session else None
    return SessionList(
        sessions=[
            SessionItem(
                id=s.id,
                created_ms=s.created_ms,
                last_seen_ms=s.last_seen_ms,
                expires_ms=s.expires_ms,
                user_agent=s.user_agent,
                address=s.address,
                current=s.id == current,
            )
            for s in await sessions.of_user(user.user)
        ]
    )


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    summary="End one of the signed-in user's sessions",
    responses=error_responses(404),
)
async def end_session(
    session_id: str, user: UserDep, request: Request, response: Response, sessions: SessionsDep
) -> None:
    if not await sessions.end(user.user, session_id):
        raise NotFound("session", session_id)
    if user.session is not None and user.session.id == session_id:
        _clear_cookie(response, request)


@router.post(
    "/account/password",
    status_code=204,
    summary="Change the signed-in user's password; ends their other sessions",
    responses=error_responses(
        403, 422, 429, 503, _403="a wrong current password, or no signed-in user"
    ),
)
async def change_password(
    body: PasswordChange, user: UserDep, request: Request, sessions: SessionsDep
) -> None:
    await sessions.change_password(
        user, body.current_password, body.new_password, _address(request)
    )
