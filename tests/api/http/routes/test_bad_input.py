"""Input that once answered 500 (and dropped the connection, with a 60-line traceback in the
log) now gets a clear refusal naming the parameter: digits `str.isdigit` takes but `int`
refuses ("²"), numbers past `int`'s 4,300 digits or SQLite's int64, a non-ASCII signature,
an agent time whose arithmetic overflows a float."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import pytest

from api.config import Settings
from common.clock import MAX_EPOCH_MS, wall_ms
from tests.api.conftest import DEVICE_TOKEN, InProcess

pytestmark = pytest.mark.anyio

HUGE = "9" * 5000  # past int()'s 4,300-digit limit
LIVE = "/api/v1/cameras/front/live.m3u8"
CLIP = "/api/v1/cameras/front/clip"


@pytest.mark.parametrize(
    ("exp", "sig"),
    [
        ("²", "A" * 32),  # isdigit() but not int()
        (HUGE, "A" * 32),
        ("99999999999", "é" * 32),  # hmac.compare_digest refuses non-ASCII str
        ("99999999999", "ü"),
    ],
    ids=["superscript-exp", "huge-exp", "non-ascii-sig", "short-non-ascii-sig"],
)
async def test_a_malformed_signed_url_is_403_without_credentials(
    server: InProcess, exp: str, sig: str
) -> None:
    response = await server.anonymous.get(LIVE, params={"exp": exp, "sig": sig})
    assert response.status_code == 403
    assert response.json()["detail"] == "invalid URL signature"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"start": "²", "end": "1000"}, "start"),
        ({"start": "1000", "end": "٣٠٠٠"}, "end"),  # Arabic-Indic digits: int() reads them
        ({"start": HUGE, "end": "1000"}, "start"),
        ({"start": "1000", "end": HUGE}, "end"),
        ({"start": "99999999999999999999999", "end": "1000"}, "start"),
        ({"start": "1000", "end": "2026-11-23T10:15:00+01:00" + "0" * 5000}, "end"),
    ],
)
async def test_clip_times_that_are_not_epoch_ms_are_422(
    server: InProcess, params: dict[str, str], parameter: str
) -> None:
    response = await server.client.get(CLIP, params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["parameter"] == parameter
    assert f"0 to {MAX_EPOCH_MS}" in body["detail"]
    assert len(body["detail"]) < 300  # the value is quoted, cut short


@pytest.mark.parametrize("value", ["99999999999999999999999", HUGE, "²"])
@pytest.mark.parametrize("name", ["start", "end"])
async def test_event_filters_beyond_int64_are_422(server: InProcess, name: str, value: str) -> None:
    response = await server.client.get("/api/v1/events", params={name: value})
    assert response.status_code == 422
    assert response.json()["parameter"] == name


@pytest.mark.parametrize("limit", ["0", "201", HUGE, "²"])
async def test_an_event_page_limit_out_of_range_is_422(server: InProcess, limit: str) -> None:
    response = await server.client.get("/api/v1/events", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["parameter"] == "query.limit"


@pytest.mark.parametrize("seq", [HUGE, "99999999999999999999999", "-1"])
async def test_a_segment_number_out_of_range_is_422(server: InProcess, seq: str) -> None:
    response = await server.client.get(f"/api/v1/cameras/front/segments/{seq}.ts")
    assert response.status_code == 422
    assert response.json()["parameter"] == "path.seq"


@pytest.mark.parametrize("header", [f"bytes={HUGE}-", f"bytes=0-{HUGE}", f"bytes=-{HUGE}"])
async def test_a_byte_range_past_any_file_is_answered(server: InProcess, header: str) -> None:
    whole = await server.client.get(CLIP, params={"seconds": "5"})
    response = await server.client.get(CLIP, params={"seconds": "5"}, headers={"Range": header})
    size = len(whole.content)
    if header.startswith(f"bytes={HUGE}"):
        assert response.status_code == 416
        assert response.headers["content-range"] == f"bytes */{size}"
        assert len(response.json()["detail"]) < 200
    else:  # to the end of the file, or the whole file
        assert response.status_code == 206
        assert response.headers["content-range"] == f"bytes 0-{size - 1}/{size}"


def ring(**changes: object) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "camera": "front",
        "kind": "ring",
        "at_ms": wall_ms(),
        **changes,
    }


@pytest.mark.parametrize(
    "changes",
    [{"at_ms": int("9" * 400)}, {"at_ms": MAX_EPOCH_MS + 1}, {"clock_offset_ms": -int("9" * 400)}],
    ids=["400-digit-at_ms", "past-year-9999", "400-digit-offset"],
)
async def test_an_agent_time_past_any_clock_is_422_with_the_server_time(
    server: InProcess, changes: dict[str, object]
) -> None:
    response = await server.agent_post(ring(**changes))
    assert response.status_code == 422
    body = response.json()
    assert body["parameter"] == next(iter(changes))
    assert isinstance(body["server_time_ms"], int)


async def test_a_store_failure_on_the_agent_route_is_503_with_the_server_time(
    server: InProcess, tier_settings: Settings
) -> None:
    path = tier_settings.database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:  # the store breaks under the server
        db.execute("DROP TABLE deliveries")
        db.execute("DROP TABLE events")
    response = await server.agent_post(ring())
    assert response.status_code == 503
    body = response.json()
    assert "event store is unavailable" in body["detail"]
    assert isinstance(body["server_time_ms"], int)
    assert response.headers["retry-after"] == "2"


@pytest.mark.parametrize("body", [b"\xff", b'{"ids": ["\xe9"]}'])
async def test_a_body_that_is_not_utf8_json_is_422_in_the_declared_shape(
    server: InProcess, body: bytes
) -> None:
    response = await server.client.post(
        "/api/v1/events/delete", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422  # was FastAPI's 400, declared nowhere
    answer = response.json()
    assert answer["parameter"] == "body"
    assert "not JSON in UTF-8" in answer["detail"]
    assert answer["errors"] == [
        {"field": "body", "problem": "not JSON in UTF-8 (UnicodeDecodeError)"}
    ]


@pytest.mark.parametrize("declared", [b"\xb2", b"9" * 5000])
async def test_an_agent_content_length_int_refuses_is_not_a_500(
    server: InProcess, declared: bytes
) -> None:
    """A declared length `isdigit` takes but `int` refuses (a server's HTTP parser would stop
    it first; the route does not count on that): the body is read, bounded, as it comes."""
    body = json.dumps(ring()).encode()
    headers = [(b"authorization", f"Bearer {DEVICE_TOKEN}".encode()), (b"content-length", declared)]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/agent/events", "raw_path": b"/api/v1/agent/events",
        "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("doorbell.test", 80),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await server.app(scope, receive, send)  # type: ignore[arg-type]
    status = sent[0]["status"]
    assert status == (201 if declared == b"\xb2" else 413)


async def test_event_ids_to_delete_are_bounded(server: InProcess) -> None:
    # (Over 64 characters, under the 64-KiB body cap that would answer 413 first.)
    response = await server.client.post("/api/v1/events/delete", json={"ids": ["e" * 1_000]})
    assert response.status_code == 422
    assert response.json()["parameter"] == "body.ids.0"
