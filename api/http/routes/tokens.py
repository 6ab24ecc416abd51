"""The signed-in user's API tokens (native apps, scripts): create (shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.accounts.model import TokenRecord
from api.errors import NotFound
from api.http.deps import AuthFirstRoute, TokensDep, UserDep
from api.http.handlers import error_responses

router = APIRouter(prefix="/tokens", tags=["tokens"], route_class=AuthFirstRoute)


class TokenIn(BaseModel):
    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="what it is for: shown in lists (no control characters)",
    )


class TokenOut(BaseModel):
    id: str
    name: str
    created_ms: int
    last_used_ms: int | None = Field(description="updated at most once a minute; null: never")


class TokenCreated(BaseModel):
    id: str
    name: str
    created_ms: int
    token: str = Field(description="send as 'Authorization: Bearer <token>'; shown only now")


class TokenList(BaseModel):
    tokens: list[TokenOut]


def _token_out(record: TokenRecord) -> TokenOut:
    return TokenOut(
        id=record.id,
        name=record.name,
        created_ms=record.created_ms,
        last_used_ms=record.last_used_ms,
    )


@router.get("", summary="The signed-in user's API tokens, oldest first")
async def list_tokens(user: UserDep, tokens: TokensDep) -> TokenList:
    return TokenList(tokens=[_token_out(t) for t in await tokens.of_user(user.user)])


@router.post(
    "",
    status_code=201,
    summary="Create an API token; the token is shown in this answer only",
    responses=error_responses(422),
)
async def create_token(body: TokenIn, user: UserDep, tokens: TokensDep) -> TokenCreated:
    record, token = await tokens.create(user.user, body.name)
    return TokenCreated(id=record.id, name=record.name, created_ms=record.created_ms, token=token)


@router.delete(
    "/{token_id}",
    status_code=204,
    summary="Revoke one of the signed-in user's API tokens",
    responses=error_responses(404),
)
async def revoke_token(token_id: str, user: UserDep, tokens: TokensDep) -> None:
    if not await tokens.revoke(user.user, token_id):
        raise NotFound("API token", token_id)
