"""The one error map: each error's status, body fields and headers."""

from __future__ import annotations

import json

import pytest

from api.errors import (
    BadRequest,
    BodyTooLarge,
    ClipsBusy,
    ClockOffsetNeeded,
    Conflict,
    FieldProblem,
    Forbidden,
    MediaPending,
    NoMedia,
    NotFound,
    OutsideBuffer,
    RangeNotSatisfiable,
    TooManyStreams,
    Unauthorized,
)
from api.http.handlers import error_response
from api.store.errors import StoreError


class AssemblyFailed(Exception):
    """Stands in for the segmenter's ClipError, which the wiring hands to the map."""


@pytest.mark.parametrize(
    ("error", "status", "body", "headers"),
    [
        (Unauthorized("who?"), 401, {"detail": "who?"}, {"www-authenticate": "Bearer"}),
        (Forbidden("no"), 403, {"detail": "no"}, {}),
        (NotFound("camera", "x", ["front"]), 404,
         {"detail": "unknown camera 'x'", "allowed": ["front"]}, {}),
        (NotFound("device", "d"), 404, {"detail": "unknown device 'd'"}, {}),
        (NoMedia("none yet", "pending", 7), 404, {"detail": "none yet", "state": "pending"},
         {"retry-after": "7"}),
        (Conflict("taken"), 409, {"detail": "taken"}, {}),
        (BodyTooLarge(10), 413, {"detail": "body too large: at most 10 bytes"}, {}),
        (OutsideBuffer("nothing", None, None), 416, {"detail": "nothing", "available": None}, {}),
        (OutsideBuffer("later", 1, 2), 416,
         {"detail": "later", "available": {"start_ms": 1, "end_ms": 2}}, {}),
        (RangeNotSatisfiable("bytes=9-", 5), 416,
         {"detail": "range 'bytes=9-' is outside the 5 bytes of this file"},
         {"content-range": "bytes */5"}),
        (BadRequest("limit", "too big", allowed=["1"]), 422,
         {"detail": "too big", "parameter": "limit", "allowed": ["1"]}, {}),
        (BadRequest("body", "bad", problems=[FieldProblem("kind", "no")]), 422,
         {"detail": "bad", "parameter": "body", "errors": [{"field": "kind", "problem": "no"}]},
         {}),
        (ClockOffsetNeeded("measure"), 425, {"detail": "measure"}, {}),
        (MediaPending("wait", 1), 503, {"detail": "wait", "state": "pending"},
         {"retry-after": "1"}),
        (ClipsBusy(3), 503, {"detail": "too many clips being assembled; retry in 3s"},
         {"retry-after": "3"}),
        (TooManyStreams("full", 5), 503, {"detail": "full"}, {"retry-after": "5"}),
        (StoreError("disk full"), 503,
         {"detail": "the event store is unavailable, try again: disk full"},
         {"retry-after": "2"}),
        (AssemblyFailed("bad segment"), 503,
         {"detail": "could not assemble this from the buffer, try again: bad segment"},
         {"retry-after": "1"}),
    ],
)  # fmt: skip
def test_each_error_has_one_answer(
    error: Exception, status: int, body: dict[str, object], headers: dict[str, str]
) -> None:
    response = error_response(error, (AssemblyFailed,))
    assert response.status_code == status
    assert json.loads(bytes(response.body)) == body
    for name, value in headers.items():
        assert response.headers[name] == value


def test_what_no_rule_knows_is_a_500() -> None:
    assert error_response(KeyError("bug")).status_code == 500
