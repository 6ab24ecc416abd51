"""The one map from errors to HTTP: every error body the API sends is made here, in the one
shape `ErrorOut` declares in the OpenAPI (`detail` always; the other fields when they apply).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import (
    BadDirective,
    BadOffer,
    BadRequest,
    BodyTooLarge,
    Busy,
    ClockOffsetNeeded,
    Conflict,
    DoorbellError,
    FieldProblem,
    Forbidden,
    LiveViewUnavailable,
    MediaPending,
    NoMedia,
    NotFound,
    NotInstalled,
    OutsideBuffer,
    RangeNotSatisfiable,
    TooManyAttempts,
    Unauthorized,
    UnsupportedMediaType,
)
from api.store.errors import StoreError

logger = logging.getLogger(__name__)


class FieldProblemOut(BaseModel):
    field: str = Field(description="where, dotted: e.g. `body.kind` or `query.limit`")
    problem: str


class RangeOut(BaseModel):
    start_ms: int
    end_ms: int


class ErrorOut(BaseModel):
    """Every error the API answers with. `detail` says what was wrong and what is allowed."""

    detail: str
    parameter: str | None = Field(default=None, description="the parameter at fault (422)")
    errors: list[FieldProblemOut] | None = Field(
        default=None, description="every invalid field (422)"
    )
    allowed: list[str] | None = Field(
        default=None, description="the values that would have been accepted (404, 422)"
    )
    available: RangeOut | None = Field(
        default=None, description="the video the buffer holds (416; null: none yet)"
    )
    state: str | None = Field(
        default=None, description="the media's state: pending, failed, none, expired (404, 503)"
    )
    server_time_ms: int | None = Field(
        default=None, description="the server's clock (UTC epoch ms): agent answers only"
    )
    reason: str | None = Field(
        default=None,
        description="why WebRTC live view cannot start (503): camera_offline, "
        "too_many_viewers or webrtc_unavailable; the app then plays HLS",
    )


DESCRIPTIONS = {
    400: "a request the resource cannot honour as asked",
    401: "no or unknown credentials",
    403: "the credentials do not allow this",
    404: "no such resource",
    409: "the id is taken by something different",
    413: "the body is too large",
    415: "a body of another type than the route takes",
    416: "no video there, or a byte range beyond the file",
    422: "a parameter or the body is invalid: `parameter` and `errors` say which",
    425: "a time far from now without clock_offset_ms: retry with it",
    429: "too many failed sign-ins: retry after Retry-After",
    503: "busy or unavailable now: retry after Retry-After",
}


def error_responses(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring `ErrorOut` for `codes` (a description per code, or the
    default one); `described` takes `_404="..."` style overrides."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        text = described.get(f"_{code}", DESCRIPTIONS.get(code, "error"))
        out[code] = {"model": ErrorOut, "description": text}
    return out


@dataclass(frozen=True, slots=True)
class Answer:
    """An error as HTTP: status, the JSON body's fields beyond `detail`, headers."""

    status: int
    fields: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _problems(problems: Sequence[FieldProblem]) -> list[dict[str, str]]:
    return [{"field": p.field, "problem": p.problem} for p in problems]


def _bad_request(exc: BadRequest) -> Answer:
    fields: dict[str, Any] = {"parameter": exc.parameter}
    if exc.problems:
        fields["errors"] = _problems(exc.problems)
    if exc.allowed is not None:
        fields["allowed"] = exc.allowed
    return Answer(422, fields)


def _not_found(exc: NotFound) -> Answer:
    return Answer(404, {} if exc.allowed is None else {"allowed": exc.allowed})


def _no_media(exc: NoMedia) -> Answer:
    retry = {} if exc.retry_after_s is None else {"Retry-After": str(exc.retry_after_s)}
    return Answer(404, {"state": exc.state}, retry)


def _outside(exc: OutsideBuffer) -> Answer:
    available = None
    if exc.start_ms is not None and exc.end_ms is not None:
        available = {"start_ms": exc.start_ms, "end_ms": exc.end_ms}
    return Answer(416, {"available": available})


# Most specific first: the first matching type answers.
_RULES: tuple[tuple[type[DoorbellError], Callable[[Any], Answer]], ...] = (
    (Unauthorized, lambda e: Answer(401, headers={"WWW-Authenticate": e.challenge})),
    (Forbidden, lambda e: Answer(403)),
    (NotFound, _not_found),
    (NotInstalled, lambda e: Answer(404)),
    (NoMedia, _no_media),
    (Conflict, lambda e: Answer(409)),
    (BodyTooLarge, lambda e: Answer(413)),
    (OutsideBuffer, _outside),
    (RangeNotSatisfiable, lambda e: Answer(416, headers={"Content-Range": f"bytes */{e.size}"})),
    (BadRequest, _bad_request),
    (BadDirective, lambda e: Answer(400)),
    (BadOffer, lambda e: Answer(400)),
    (UnsupportedMediaType, lambda e: Answer(415)),
    (ClockOffsetNeeded, lambda e: Answer(425)),
    (TooManyAttempts, lambda e: Answer(429, headers=_retry(e.retry_after_s))),
    (MediaPending, lambda e: Answer(503, {"state": "pending"}, _retry(e.retry_after_s))),
    (
        LiveViewUnavailable,
        lambda e: Answer(503, {"reason": e.reason}, _retry(e.retry_after_s)),
    ),
    (Busy, lambda e: Answer(503, headers=_retry(e.retry_after_s))),
    # The database is busy, full or gone: nothing was lost (the doorbell keeps the event in
    # its outbox until a 2xx), so say when to try again.
    (StoreError, lambda e: Answer(503, headers=_retry(2))),
)


def _retry(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}


def answer(exc: Exception, assembly_errors: tuple[type[Exception], ...] = ()) -> Answer:
    """The HTTP answer to `exc` (500 for what no rule knows: a bug)."""
    for kind, rule in _RULES:
        if isinstance(exc, kind):
            return rule(exc)
    if isinstance(exc, assembly_errors):
        return Answer(503, headers=_retry(1))
    return Answer(500)


def detail_of(exc: Exception, status: int) -> str:
    if isinstance(exc, StoreError):
        return f"the event store is unavailable, try again: {exc}"
    if status == 503 and not isinstance(exc, DoorbellError):
        # The segments are ours and were whole when indexed: a failure is the server's, and
        # the next segment (a second later) is usually fine. Say so, and when to try again.
        return f"could not assemble this from the buffer, try again: {exc}"
    return str(exc)


def error_response(
    exc: Exception, assembly_errors: tuple[type[Exception], ...] = (), **extra: Any
) -> JSONResponse:
    """The JSON error response for `exc`; `extra` adds fields (the agent's server time)."""
    found = answer(exc, assembly_errors)
    body = {"detail": detail_of(exc, found.status), **found.fields, **extra}
    return JSONResponse(body, status_code=found.status, headers=found.headers or None)


def validation_problem(exc: RequestValidationError) -> BadRequest:
    """FastAPI's validation error as our BadRequest: each field and what is wrong with it."""
    problems = [
        FieldProblem(".".join(str(p) for p in error["loc"]) or "body", str(error["msg"]))
        for error in exc.errors()
    ]
    first = problems[0].field if problems else "body"
    text = "; ".join(f"{p.field}: {p.problem}" for p in problems)
    return BadRequest(first, f"invalid request: {text}", problems=problems)


def unreadable_body(cause: BaseException) -> BadRequest:
    problem = f"not JSON in UTF-8 ({type(cause).__name__})"
    return BadRequest(
        "body", f"invalid request: body: {problem}", problems=[FieldProblem("body", problem)]
    )


def _declare_error_out(app: FastAPI) -> None:
    """FastAPI declares its own 422 body (HTTPValidationError) on routes with parameters
    that did not declare one; ours is ErrorOut (`invalid` below makes it), so say that."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        error_out = {"$ref": "#/components/schemas/ErrorOut"}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                answer = operation.get("responses", {}).get("422")
                content = (answer or {}).get("content", {}).get("application/json", {})
                if "HTTPValidationError" in str(content.get("schema")):
                    answer["description"] = DESCRIPTIONS[422]
                    content["schema"] = error_out
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components.setdefault("ErrorOut", ErrorOut.model_json_schema(ref_template=_REF))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_REF = "#/components/schemas/{model}"


def install(app: FastAPI, assembly_errors: tuple[type[Exception], ...] = ()) -> None:
    """Map every error to its answer (and say so in the OpenAPI). `assembly_errors`: the
    buffer's clip failures (503)."""
    _declare_error_out(app)

    async def doorbell(request: Request, exc: Exception) -> JSONResponse:
        response = error_response(exc, assembly_errors)
        if response.status_code == 503 and not isinstance(exc, Busy | MediaPending):
            logger.error("%s %s failed: %s", request.method, request.url.path, exc)
        return response

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(validation_problem(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI could not read the body as JSON (not UTF-8, say): a 422 like any
            # other invalid body, in the declared shape.
            return error_response(unreadable_body(exc.__cause__))
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(DoorbellError, doorbell)
    for kind in assembly_errors:
        app.add_exception_handler(kind, doorbell)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
