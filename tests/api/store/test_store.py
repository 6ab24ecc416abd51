"""The store against real SQLite (a tmp file) and real PostgreSQL (a throwaway cluster)."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from api.accounts.model import SessionRecord, TokenRecord, UserRecord
from api.errors import BadRequest
from api.events.model import DeviceRecord, EventRecord, QuietHours, WebPushKeys
from api.store import Database, DeviceStore, StoreError, sqlite_url, upgrade
from api.store.database import connect_sqlite
from api.store.events import decode_cursor, encode_cursor
from api.store.schema import Base
from common.events import EventKind
from tests import pg
from tests.pg import PostgresCluster

pytestmark = pytest.mark.anyio

CAMERAS = ("front", "back")
HEAD = "0003_web_push"  # the newest migration
STEPS = 3  # migrations from an empty database to HEAD


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    database = await Database.open(url)
    try:
        yield database
    finally:
        await database.aclose()


async def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run raw SQL on its own engine (committed); the rows it returns, if any."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(sql))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def make_event(n: int, at_ms: int | None = None, **changes: Any) -> EventRecord:
    event = EventRecord(
        id=f"00000000-0000-4000-8000-{n:012d}",
        camera=CAMERAS[n % 2],
        kind="ring",
        at_ms=1_700_000_000_000 + n * 1000 if at_ms is None else at_ms,
        agent_at_ms=1_700_000_000_000 + n * 1000 - 250,
        clock_offset_ms=250,
        received_ms=1_700_000_000_000 + n * 1000 + 40,
    )
    return replace(event, **changes)


async def add_all(db: Database, events: list[EventRecord]) -> None:
    for event in events:
        _, created = await db.events.add(event)
        assert created


async def make_device(db: Database, token: str = "tok-1", name: str = "Pixel") -> DeviceRecord:
    device, created = await db.devices.upsert(token, "android", name, None, True, None)
    assert created
    return device


# Events


async def test_add_then_get_round_trips_every_field(db: Database) -> None:
    event = make_event(
        1,
        kind="motion_start",
        score=0.875,
        box=(0.1, 0.2, 0.5, 0.75),
        ended_at_ms=1_700_000_009_000,
        snapshot_state="ready",
        snapshot_path="front/2023/snap.jpg",
        snapshot_at_ms=1_700_000_001_100,
        clip_state="failed",
        clip_path="front/2023/clip.mp4",
        clip_start_ms=1_699_999_996_000,
        clip_end_ms=1_700_000_011_000,
        clip_bytes=2**40,
    )
    stored, created = await db.events.add(event)
    assert (stored, created) == (event, True)
    assert await db.events.get(event.id) == event
    bare = make_event(2, clock_offset_ms=None)
    await db.events.add(bare)
    assert await db.events.get(bare.id) == bare  # None stays None, box and score included
    assert await db.events.get("00000000-0000-4000-8000-999999999999") is None


async def test_adding_an_id_again_returns_the_stored_event(db: Database) -> None:
    first = make_event(1)
    await db.events.add(first)
    stored, created = await db.events.add(replace(first, camera="back", at_ms=5))
    assert (stored, created) == (first, False)
    assert await db.events.count() == 1


async def test_concurrent_adds_of_one_id_store_it_once(db: Database) -> None:
    event = make_event(7)
    results = await asyncio.gather(*(db.events.add(event) for _ in range(8)))
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert all(stored == event for stored, _ in results)
    assert await db.events.count() == 1


async def test_page_is_newest_first_and_ties_go_by_id_descending(db: Database) -> None:
    events = [make_event(n, at_ms=1000 * (n // 3)) for n in range(9)]
    await add_all(db, events[::-1])
    page, cursor = await db.events.page()
    expected = sorted(events, key=lambda e: (e.at_ms, e.id), reverse=True)
    assert (page, cursor) == (expected, None)


async def test_page_filters_by_camera_kinds_and_half_open_time_range(db: Database) -> None:
    kinds: tuple[EventKind, ...] = ("ring", "motion_start", "motion_end")
    events = [make_event(n, at_ms=1000 * n, kind=kinds[n % 3]) for n in range(12)]
    await add_all(db, events)

    async def ids(**filters: Any) -> list[int]:
        page, _ = await db.events.page(**filters)
        return [events.index(e) for e in page]

    assert await ids(camera="front") == [10, 8, 6, 4, 2, 0]
    assert await ids(kinds=["ring"]) == [9, 6, 3, 0]
    assert await ids(kinds={"motion_start", "motion_end"}) == [11, 10, 8, 7, 5, 4, 2, 1]
    assert await ids(kinds=[]) == []
    assert await ids(start_ms=3000, end_ms=6000) == [5, 4, 3]  # start inclusive, end not
    assert await ids(camera="back", kinds=["ring"], start_ms=3000) == [9, 3]
    assert await ids(camera="side") == []


@pytest.mark.parametrize("limit", [1, 4, 5, 30])
async def test_cursor_pages_cover_every_event_once(db: Database, limit: int) -> None:
    # 20 events in 7 distinct milliseconds: page edges fall inside runs of equal at_ms.
    events = [make_event(n, at_ms=1000 * (n // 3)) for n in range(20)]
    await add_all(db, events)
    seen: list[EventRecord] = []
    cursor: str | None = None
    for _ in range(25):
        page, cursor = await db.events.page(cursor=cursor, limit=limit)
        assert 0 < len(page) <= limit
        seen += page
        if cursor is None:
            break
        assert not set(cursor) & set("=+/")  # urlsafe, unpadded: fit for a query string
    assert seen == sorted(events, key=lambda e: (e.at_ms, e.id), reverse=True)


async def test_cursor_pages_keep_their_filter(db: Database) -> None:
    events = [make_event(n, at_ms=1000 * (n // 4)) for n in range(16)]
    await add_all(db, events)
    first, cursor = await db.events.page(camera="back", limit=4)
    second, last = await db.events.page(camera="back", cursor=cursor, limit=4)
    expected = sorted(
        (e for e in events if e.camera == "back"), key=lambda e: (e.at_ms, e.id), reverse=True
    )
    assert (first + second, last) == (expected, None)  # exactly two full pages: no third


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        b64(b"1700000000000"),  # no id
        b64(b"soon:00000000-0000-4000-8000-000000000001"),
        b64(b"99999999999999999999:id"),  # beyond BIGINT
        b64(b"\xff\xfe:id"),
        b64(b"1000:"),
    ],
)
def test_decoding_a_malformed_cursor_is_a_bad_request(cursor: str) -> None:
    with pytest.raises(BadRequest, match="cursor") as raised:
        decode_cursor(cursor)
    assert raised.value.parameter == "cursor"


def test_cursors_round_trip() -> None:
    for at_ms, event_id in [(0, "a"), (-5, "x:y"), (2**63 - 1, make_event(1).id)]:
        assert decode_cursor(encode_cursor(at_ms, event_id)) == (at_ms, event_id)


async def test_a_malformed_cursor_is_a_bad_request(db: Database) -> None:
    with pytest.raises(BadRequest, match="cursor") as raised:
        await db.events.page(cursor=b64(b"yesterday:id"))
    assert raised.value.parameter == "cursor"


async def test_a_cursor_is_opaque_but_round_trips(db: Database) -> None:
    events = [make_event(n) for n in range(3)]
    await add_all(db, events)
    page, _ = await db.events.page(cursor=encode_cursor(events[2].at_ms, events[2].id))
    assert page == [events[1], events[0]]


async def test_media_and_end_updates_return_the_updated_event(db: Database) -> None:
    event = make_event(1, kind="motion_start")
    await db.events.add(event)
    snap = await db.events.set_snapshot(event.id, "ready", "s.jpg", 1234)
    assert snap == replace(
        event, snapshot_state="ready", snapshot_path="s.jpg", snapshot_at_ms=1234
    )
    clip = await db.events.set_clip(event.id, "ready", "c.mp4", 1000, 9000, 4096)
    assert clip == replace(
        snap, clip_state="ready", clip_path="c.mp4", clip_start_ms=1000, clip_end_ms=9000,
        clip_bytes=4096,
    )  # fmt: skip
    expired = await db.events.set_clip(event.id, "expired", None, 1000, 9000, None)
    assert expired is not None
    assert (expired.clip_state, expired.clip_path, expired.clip_bytes) == ("expired", None, None)
    ended = await db.events.set_ended(event.id, 5555)
    assert ended == replace(expired, ended_at_ms=5555)
    assert await db.events.get(event.id) == ended
    unknown = "00000000-0000-4000-8000-999999999999"
    assert await db.events.set_snapshot(unknown, "failed", None, None) is None
    assert await db.events.set_clip(unknown, "failed", None, None, None, None) is None
    assert await db.events.set_ended(unknown, 1) is None


async def test_open_motion_is_the_newest_unended_motion_start(db: Database) -> None:
    await add_all(
        db,
        [
            make_event(0, kind="motion_start", at_ms=1000),  # front, open but older
            make_event(2, kind="motion_start", at_ms=2000),  # front, open, newest
            make_event(4, kind="motion_start", at_ms=3000, ended_at_ms=3500),  # front, ended
            make_event(6, kind="ring", at_ms=4000),  # front, not motion
            make_event(1, kind="motion_start", at_ms=1500, ended_at_ms=1600),  # back, ended
        ],
    )
    found = await db.events.open_motion("front")
    assert found is not None
    assert found.id == make_event(2).id
    assert await db.events.open_motion("back") is None
    await db.events.set_ended(found.id, 2500)
    again = await db.events.open_motion("front")
    assert again is not None
    assert again.id == make_event(0).id


async def test_recovery_and_retention_queries_are_oldest_first(db: Database) -> None:
    events = [
        make_event(0, at_ms=5000, snapshot_state="ready", clip_state="ready"),
        make_event(1, at_ms=1000, snapshot_state="pending", clip_state="ready"),
        make_event(2, at_ms=3000, snapshot_state="ready", clip_state="pending"),
        make_event(3, at_ms=2000, snapshot_state="none", clip_state="none"),
        make_event(4, at_ms=4000, snapshot_state="failed", clip_state="expired"),
        make_event(5, at_ms=3000, snapshot_state="pending", clip_state="pending"),
        make_event(6, at_ms=6000, snapshot_state="ready", clip_state="error"),  # disk was full
    ]
    await add_all(db, events)

    def numbers(found: list[EventRecord]) -> list[int]:
        return [events.index(e) for e in found]

    assert numbers(await db.events.pending_media()) == [1, 2, 5, 6]
    assert numbers(await db.events.saved_clips()) == [1, 0]
    assert numbers(await db.events.older_than(4000)) == [1, 3, 2, 5]  # (6 is newer)
    assert numbers(await db.events.older_than(4000, limit=2)) == [1, 3]
    assert await db.events.older_than(1000) == []


async def test_delete_returns_the_deleted_and_takes_their_deliveries(db: Database) -> None:
    events = [make_event(n) for n in range(5)]
    await add_all(db, events)
    device = await make_device(db)
    for event in events:
        await db.deliveries.record(event.id, device, "alert", 1, event.at_ms, "sent", "m")
    unknown = [f"00000000-0000-4000-8000-{n:012d}" for n in range(100, 700)]  # > one chunk
    deleted = await db.events.delete([events[3].id, events[1].id, *unknown, events[1].id])
    assert deleted == [events[1], events[3]]
    assert await db.events.count() == 3
    assert await db.deliveries.for_event(events[1].id) == []
    assert len(await db.deliveries.for_event(events[0].id)) == 1
    assert await db.events.delete([]) == []


async def test_clear_deletes_every_event_and_delivery(db: Database, url: str) -> None:
    events = [make_event(n) for n in range(4)]
    await add_all(db, events[::-1])
    device = await make_device(db)
    await db.deliveries.record(events[0].id, device, "alert", 1, 1, "sent")
    assert await db.events.clear() == events
    assert await db.events.count() == 0
    assert await query(url, "SELECT count(*) FROM deliveries") == [(0,)]
    assert await db.devices.get(device.id) == device  # devices are not events
    assert await db.events.clear() == []


# Devices


async def test_registering_a_token_again_updates_it_and_keeps_its_id(db: Database) -> None:
    quiet = QuietHours(start="22:00", end="07:00", timezone="Europe/Berlin")
    first, created = await db.devices.upsert("tok-1", "android", "Pixel", None, True, quiet)
    assert created
    assert (first.cameras, first.quiet_hours, first.created_ms) == (None, quiet, first.updated_ms)
    again, created = await db.devices.upsert("tok-1", "ios", "iPhone", ("front",), False, None)
    assert not created
    assert again == replace(
        first, platform="ios", name="iPhone", cameras=("front",), motion=False, quiet_hours=None,
        updated_ms=again.updated_ms,
    )  # fmt: skip
    assert again.updated_ms >= first.created_ms  # and created_ms is the first one's
    other, created = await db.devices.upsert("tok-2", "web", "Firefox", (), True, None)
    assert created
    assert other.id != first.id
    assert other.cameras == ()
    assert await db.devices.get(first.id) == again
    assert await db.devices.get("nope") is None
    assert await db.devices.list() == [again, other]


async def test_registration_times_come_from_the_clock(db: Database, url: str) -> None:
    engine = create_async_engine(url)
    try:
        devices = DeviceStore(async_sessionmaker(engine), clock=iter([1000, 2000]).__next__)
        first, _ = await devices.upsert("tok-1", "android", "Pixel", None, True, None)
        again, _ = await devices.upsert("tok-1", "android", "Pixel 9", None, True, None)
    finally:
        await engine.dispose()
    assert (first.created_ms, first.updated_ms) == (1000, 1000)
    assert (again.created_ms, again.updated_ms) == (1000, 2000)


async def test_concurrent_registrations_of_one_token_make_one_device(db: Database) -> None:
    results = await asyncio.gather(
        *(db.devices.upsert("tok", "android", f"n{i}", None, True, None) for i in range(6))
    )
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert len({device.id for device, _ in results}) == 1
    assert len(await db.devices.list()) == 1


KEYS = WebPushKeys(p256dh="B" + "A" * 86, auth="QUFBQUFBQUFBQUFBQUFBQQ")
ENDPOINT = "https://push.example.net/send/abc"


async def test_web_push_devices_are_keyed_by_endpoint_and_keep_their_keys(db: Database) -> None:
    phone = await make_device(db, "tok-1")
    assert (phone.channel, phone.web_push_keys) == ("fcm", None)
    browser, created = await db.devices.upsert(
        ENDPOINT, "web", "Firefox", None, False, None, channel="web_push", web_push_keys=KEYS
    )
    assert created
    assert (browser.token, browser.channel, browser.web_push_keys) == (ENDPOINT, "web_push", KEYS)
    renewed = WebPushKeys(p256dh="B" + "C" * 86, auth="QkJCQkJCQkJCQkJCQkJCQg")
    again, created = await db.devices.upsert(
        ENDPOINT, "web", "Firefox", ("front",), True, None, channel="web_push",
        web_push_keys=renewed,
    )  # fmt: skip
    assert not created
    assert again == replace(
        browser, cameras=("front",), motion=True, web_push_keys=renewed,
        updated_ms=again.updated_ms,
    )  # fmt: skip
    assert await db.devices.list() == [phone, again]
    assert await db.devices.forget_token(ENDPOINT)
    assert await db.devices.list() == [phone]


async def test_web_push_keys_go_with_the_web_push_channel_only(db: Database, url: str) -> None:
    with pytest.raises(ValueError, match="web_push_keys"):
        await db.devices.upsert(ENDPOINT, "web", "x", None, True, None, channel="web_push")
    with pytest.raises(ValueError, match="web_push_keys"):
        await db.devices.upsert("tok", "web", "x", None, True, None, web_push_keys=KEYS)
    # The database holds to it too (a check constraint), for whatever writes to it.
    with pytest.raises(IntegrityError):
        await query(
            url,
            "INSERT INTO devices (id, token, platform, name, motion, created_ms, updated_ms, "
            "channel) VALUES ('d1', 'e', 'web', 'x', true, 0, 0, 'web_push')",
        )
    assert await db.devices.list() == []


async def test_devices_from_before_web_push_become_fcm_devices(url: str) -> None:
    await upgrade(url, "0001")
    await query(
        url,
        "INSERT INTO devices (id, token, platform, name, motion, created_ms, updated_ms) "
        "VALUES ('d1', 'tok-old', 'android', 'Pixel', true, 1, 2)",
    )
    db = await Database.open(url)
    try:
        [device] = await db.devices.list()
    finally:
        await db.aclose()
    assert (device.id, device.token, device.channel, device.web_push_keys) == (
        "d1", "tok-old", "fcm", None,
    )  # fmt: skip


async def test_forget_token_and_delete(db: Database) -> None:
    one = await make_device(db, "tok-1")
    two = await make_device(db, "tok-2")
    assert await db.devices.forget_token("tok-1")
    assert not await db.devices.forget_token("tok-1")
    assert await db.devices.list() == [two]
    assert await db.devices.delete(two.id)
    assert not await db.devices.delete(two.id)
    assert not await db.devices.delete(one.id)
    assert await db.devices.list() == []


# Deliveries


async def test_deliveries_come_in_attempt_order(db: Database) -> None:
    event = make_event(1)
    await db.events.add(event)
    pixel = await make_device(db, "tok-1", "Pixel")
    iphone = await make_device(db, "tok-2", "iPhone")
    await db.deliveries.record(event.id, pixel, "alert", 2, 2000, "sent", message_id="m2")
    await db.deliveries.record(event.id, iphone, "alert", 1, 1000, "unavailable", error="503")
    await db.deliveries.record(event.id, pixel, "alert", 1, 1000, "quota", error="429")
    found = await db.deliveries.for_event(event.id)
    assert [(d.attempt, d.device_name, d.outcome) for d in found] == [
        (1, "iPhone", "unavailable"),
        (1, "Pixel", "quota"),
        (2, "Pixel", "sent"),
    ]
    assert (found[2].device_id, found[2].message_id, found[2].error) == (pixel.id, "m2", None)
    assert (found[0].event_id, found[0].message, found[0].error) == (event.id, "alert", "503")
    assert len({d.id for d in found}) == 3
    assert await db.deliveries.for_event(make_event(2).id) == []


async def test_a_deleted_device_leaves_its_deliveries_by_name(db: Database) -> None:
    event = make_event(1)
    await db.events.add(event)
    device = await make_device(db, "tok-1", "Pixel")
    await db.deliveries.record(event.id, device, "alert", 1, 1000, "sent")
    await db.devices.delete(device.id)
    # Recorded after the device went (the push was already under way): kept, without its id.
    await db.deliveries.record(event.id, device, "clip_ready", 1, 2000, "unregistered")
    found = await db.deliveries.for_event(event.id)
    assert [(d.device_id, d.device_name, d.message) for d in found] == [
        (None, "Pixel", "alert"),
        (None, "Pixel", "clip_ready"),
    ]


async def test_a_delivery_for_a_deleted_event_is_dropped(
    db: Database, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = make_event(1)
    await db.events.add(event)
    device = await make_device(db)
    await db.events.delete([event.id])
    with caplog.at_level(logging.DEBUG, logger="api.store.deliveries"):
        await db.deliveries.record(event.id, device, "alert", 1, 1000, "sent")
    assert await query(url, "SELECT count(*) FROM deliveries") == [(0,)]
    assert any(event.id in r.getMessage() for r in caplog.records)


# Accounts: users, sessions, API tokens


async def make_user(db: Database, name: str = "ana") -> UserRecord:
    user = await db.users.add(name, f"$argon2id$hash-of-{name}", 1000)
    assert user is not None
    return user


def make_session(user: UserRecord, n: int, last_seen_ms: int = 2000) -> SessionRecord:
    return SessionRecord(
        id=f"{n:064x}",
        user_id=user.id,
        csrf_token=f"csrf-{n}",
        created_ms=1000,
        last_seen_ms=last_seen_ms,
        expires_ms=last_seen_ms + 10_000,
        user_agent=None if n % 2 else "Firefox",
        address="192.0.2.7",
    )


def make_token(user: UserRecord, n: int) -> TokenRecord:
    return TokenRecord(f"token-{n}", user.id, f"script {n}", 1000 + n, None)


async def test_users_are_unique_by_name_and_listed_by_name(db: Database) -> None:
    bo = await make_user(db, "bo")
    ana = await make_user(db, "ana")
    assert (ana.name, ana.password_hash, ana.created_ms, ana.password_changed_ms) == (
        "ana", "$argon2id$hash-of-ana", 1000, 1000,
    )  # fmt: skip
    assert await db.users.add("ana", "other", 2000) is None
    assert await db.users.list() == [ana, bo]
    assert await db.users.by_name("ana") == ana
    assert await db.users.by_name("zed") is None


async def test_concurrent_adds_of_one_name_make_one_user(db: Database) -> None:
    added = await asyncio.gather(*(db.users.add("ana", f"h{n}", n) for n in range(6)))
    assert len([u for u in added if u is not None]) == 1
    assert len(await db.users.list()) == 1


async def test_a_new_hash_keeps_or_sets_the_change_time(db: Database) -> None:
    ana = await make_user(db)
    assert await db.users.set_password_hash(ana.id, "rehashed", None)
    assert await db.users.by_name("ana") == replace(ana, password_hash="rehashed")
    assert await db.users.set_password_hash(ana.id, "new", 5000)
    changed = await db.users.by_name("ana")
    assert changed == replace(ana, password_hash="new", password_changed_ms=5000)
    assert not await db.users.set_password_hash("no-such-id", "x", 1)


async def test_sessions_are_found_with_their_user_and_listed_per_user(db: Database) -> None:
    ana, bo = await make_user(db, "ana"), await make_user(db, "bo")
    sessions = [make_session(ana, 1, 2000), make_session(ana, 2, 3000), make_session(bo, 3)]
    for session in sessions:
        await db.sessions.add(session)
    assert await db.sessions.with_user(sessions[0].id) == (sessions[0], ana)
    assert await db.sessions.with_user(f"{9:064x}") is None
    assert await db.sessions.of_user(ana.id) == [sessions[1], sessions[0]]  # last seen first
    await db.sessions.touch(sessions[0].id, 4000, 14_000)
    touched = replace(sessions[0], last_seen_ms=4000, expires_ms=14_000)
    assert await db.sessions.of_user(ana.id) == [touched, sessions[1]]


async def test_sessions_end_one_by_user_all_but_one_and_when_expired(db: Database) -> None:
    ana, bo = await make_user(db, "ana"), await make_user(db, "bo")
    a1, a2, a3 = (make_session(ana, n, 1000 * n) for n in (1, 2, 3))
    b4 = make_session(bo, 4, 1000)
    for session in (a1, a2, a3, b4):
        await db.sessions.add(session)
    assert not await db.sessions.delete(b4.id, user_id=ana.id)  # not ana's
    assert await db.sessions.delete(a1.id, user_id=ana.id)
    assert not await db.sessions.delete(a1.id)
    assert await db.sessions.delete_of_user(ana.id, keep=a3.id) == 1
    assert await db.sessions.of_user(ana.id) == [a3]
    assert await db.sessions.delete_expired(11_000) == 1  # b4 expires at 11 000
    assert await db.sessions.of_user(bo.id) == []
    assert await db.sessions.delete_of_user(ana.id) == 1


async def test_tokens_are_found_by_hash_with_their_user(db: Database) -> None:
    ana, bo = await make_user(db, "ana"), await make_user(db, "bo")
    t1, t2, t3 = make_token(ana, 1), make_token(ana, 2), make_token(bo, 3)
    for token, digest in ((t2, "h2"), (t1, "h1"), (t3, "h3")):
        await db.tokens.add(token, digest)
    assert await db.tokens.with_user("h1") == (t1, ana)
    assert await db.tokens.with_user("nope") is None
    assert await db.tokens.of_user(ana.id) == [t1, t2]  # oldest first
    await db.tokens.touch(t1.id, 7000)
    assert await db.tokens.with_user("h1") == (replace(t1, last_used_ms=7000), ana)
    assert not await db.tokens.delete(t3.id, ana.id)  # bo's
    assert await db.tokens.delete(t1.id, ana.id)
    assert await db.tokens.of_user(ana.id) == [t2]
    with pytest.raises(StoreError, match="cannot store an API token"):
        await db.tokens.add(make_token(bo, 4), "h3")  # the hash is unique


async def test_removing_a_user_takes_their_sessions_and_tokens(db: Database, url: str) -> None:
    ana, bo = await make_user(db, "ana"), await make_user(db, "bo")
    await db.sessions.add(make_session(ana, 1))
    await db.sessions.add(make_session(bo, 2))
    await db.tokens.add(make_token(ana, 1), "h1")
    await db.tokens.add(make_token(bo, 2), "h2")
    assert await db.users.delete("ana")
    assert not await db.users.delete("ana")
    assert await query(url, "SELECT user_id FROM sessions") == [(bo.id,)]
    assert await query(url, "SELECT user_id FROM api_tokens") == [(bo.id,)]


# Migrations and the database


def migration_runs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "alembic.runtime.migration" and r.getMessage().startswith("Running upgrade")
    ]


async def test_migrations_reach_head_and_reopening_is_a_no_op(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alembic")
    first = await Database.open(url)
    try:
        await first.events.add(make_event(1))
    finally:
        await first.aclose()
    assert len(migration_runs(caplog)) == STEPS
    caplog.clear()
    await upgrade(url)
    second = await Database.open(url)
    try:
        assert await second.events.get(make_event(1).id) == make_event(1)
    finally:
        await second.aclose()
    assert migration_runs(caplog) == []
    assert await query(url, "SELECT version_num FROM alembic_version") == [(HEAD,)]


UPGRADE_SCRIPT = """
import asyncio, logging, sys
from api.store import upgrade
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
print("ready", flush=True)
sys.stdin.readline()  # the starting gun: every process is imported and waiting
asyncio.run(upgrade(sys.argv[1]))
"""


async def test_upgrades_from_concurrent_processes_take_turns(url: str) -> None:
    # A server starting while `doorbell migrate` runs: the database serializes them.
    pipe = asyncio.subprocess.PIPE
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", UPGRADE_SCRIPT, url, stdin=pipe, stdout=pipe, stderr=pipe
        )
        for _ in range(3)
    ]
    try:
        with anyio.fail_after(60):
            for process in processes:
                assert process.stdout is not None
                assert await process.stdout.readline() == b"ready\n"
            results = await asyncio.gather(*(p.communicate(b"go\n") for p in processes))
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert [p.returncode for p in processes] == [0, 0, 0], results
    logs = "".join(stderr.decode() for _, stderr in results)
    assert logs.count("Running upgrade") == STEPS, logs  # by one process only
    assert await query(url, "SELECT version_num FROM alembic_version") == [(HEAD,)]


async def test_a_brand_new_database_opens_while_another_process_writes_to_it(
    tmp_path: Path,
) -> None:
    # The migration race's cause: switching a brand-new (rollback-journal) database to WAL
    # opens a read transaction, then upgrades it to write the header; SQLite refuses that
    # upgrade at once while another connection holds the write lock ("database is locked",
    # no busy handler: waiting while holding a read lock could deadlock).
    path = tmp_path / "doorbell.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # e.g. a second server migrating it right now
    release = threading.Timer(1.0, other.execute, ("COMMIT",))
    release.start()
    try:
        with anyio.fail_after(15):
            db = await Database.open(sqlite_url(path))
        await db.aclose()
    finally:
        release.join()
        other.close()
    assert await query(sqlite_url(path), "PRAGMA journal_mode") == [("wal",)]


ROUNDS_SCRIPT = """
import asyncio, sys
from api.store import Database
async def start(url: str) -> None:  # what a server's start does: migrate, then connect
    db = await Database.open(url)
    await db.aclose()
print("ready", flush=True)
for line in sys.stdin:  # each line: a brand-new database to migrate, now
    try:
        asyncio.run(start(line.strip()))
    except Exception as exc:
        print(f"error: {exc}", flush=True)
    else:
        print("ok", flush=True)
"""
# CI runs a few rounds; `DOORBELL_MIGRATION_ROUNDS=200` under CPU load is the by-hand proof.
MIGRATION_ROUNDS = int(os.environ.get("DOORBELL_MIGRATION_ROUNDS", "10"))


async def test_three_processes_migrating_brand_new_sqlite_databases_never_fail(
    tmp_path: Path,
) -> None:
    # Before: ~1 round in 100 under load failed with "database is locked", raised by
    # PRAGMA journal_mode=WAL (switching to WAL takes its lock without the busy handler).
    pipe = asyncio.subprocess.PIPE
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", ROUNDS_SCRIPT, stdin=pipe, stdout=pipe
        )
        for _ in range(3)
    ]
    failures: list[str] = []
    try:
        with anyio.fail_after(30 + 3 * MIGRATION_ROUNDS):
            for process in processes:
                assert process.stdout is not None
                assert await process.stdout.readline() == b"ready\n"
            for n in range(MIGRATION_ROUNDS):
                url = sqlite_url(tmp_path / f"{n}" / "doorbell.db")
                for process in processes:
                    assert process.stdin is not None
                    process.stdin.write(f"{url}\n".encode())
                answers = [await p.stdout.readline() for p in processes if p.stdout]
                failures += [f"round {n}: {a.decode().strip()}" for a in answers if a != b"ok\n"]
    finally:
        for process in processes:
            process.kill()
            await process.wait()
    print(f"{MIGRATION_ROUNDS} rounds of 3 processes: {len(failures)} failed")
    assert failures == []


async def test_concurrent_upgrades_of_different_databases_in_one_process(
    tmp_path: Path,
) -> None:
    # Alembic's context is process-global: interleaved migrations would clobber each other.
    urls = [sqlite_url(tmp_path / f"{n}.db") for n in range(3)]
    with anyio.fail_after(30):
        await asyncio.gather(*(upgrade(url) for url in urls))
    for url in urls:
        assert await query(url, "SELECT version_num FROM alembic_version") == [(HEAD,)]


async def test_the_migrations_create_exactly_the_mapped_schema(db: Database, url: str) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_a_database_from_a_newer_version_is_refused(url: str) -> None:
    await upgrade(url)
    await query(url, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"cannot open database .*9999"):
        await Database.open(url)


async def test_sqlite_pragmas_on_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "doorbell.db"
    db = await Database.open(sqlite_url(path))
    try:
        async with db._engine.connect() as connection:  # the pragmas are per connection
            values = [
                (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            ]
    finally:
        await db.aclose()
    assert values == ["wal", 2, 1, 10_000]  # synchronous 2 is FULL
    assert path.is_file()


async def test_sqlite_migrations_are_all_or_nothing(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    from api.store.database import _engine

    url = sqlite_url(tmp_path / "doorbell.db")
    engine = _engine(make_url(url), migrating=True)

    async def fail_halfway() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE half_done (a INTEGER)"))
            raise RuntimeError("migration failed")

    try:
        with pytest.raises(RuntimeError, match="migration failed"):
            await fail_halfway()
    finally:
        await engine.dispose()
    assert await query(url, "SELECT name FROM sqlite_master") == []


@pytest.mark.parametrize(
    ("bad_url", "message"),
    [
        ("not a url: s3cr3t", "invalid database URL"),
        ("mysql://u:s3cr3t@localhost/db", "unsupported database URL mysql://u:\\*\\*\\*@"),
        ("sqlite+aiosqlite://", "in-memory"),
        ("sqlite+aiosqlite:///:memory:", "in-memory"),
    ],
)
async def test_bad_urls_are_refused_without_their_password(bad_url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as raised:
        await Database.open(bad_url)
    assert "s3cr3t" not in str(raised.value)


async def test_an_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match=f"cannot open database .*127.0.0.1:{port}") as raised:
        await Database.open(f"postgresql+asyncpg://doorbell:s3cr3t@127.0.0.1:{port}/doorbell")
    assert "s3cr3t" not in str(raised.value)


async def test_a_wrong_postgres_password_is_a_store_error(postgres: PostgresCluster) -> None:
    url = postgres.url().replace(postgres.password, "wrong-s3cr3t")
    with pytest.raises(StoreError, match="password authentication failed") as raised:
        await Database.open(url)
    assert "s3cr3t" not in str(raised.value)
    assert postgres.password not in str(raised.value)


async def test_a_plain_postgresql_url_gets_the_asyncpg_driver(postgres: PostgresCluster) -> None:
    url = postgres.create_database().replace("postgresql+asyncpg://", "postgresql://")
    db = await Database.open(url)
    try:
        assert db.url.startswith("postgresql+asyncpg://doorbell:***@")
        assert (await db.events.add(make_event(1)))[1]
    finally:
        await db.aclose()


async def test_an_uncreatable_sqlite_directory_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create"):
        await Database.open(sqlite_url(tmp_path / "file" / "doorbell.db"))


async def test_a_failing_query_is_a_store_error_naming_the_operation(
    db: Database, url: str
) -> None:
    await query(url, "DROP TABLE deliveries")
    await query(url, "DROP TABLE events")
    with pytest.raises(StoreError, match=r"cannot count events: .*events"):
        await db.events.count()
    with pytest.raises(StoreError, match="cannot store event"):
        await db.events.add(make_event(1))


def test_missing_postgres_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pg, "find_bindir", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"scripts/bootstrap\.sh --dev"):
        pg.require_bindir()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"scripts/bootstrap\.sh --dev"):
        pg.require_bindir()


async def test_a_sqlite_connection_closed_after_it_was_stopped_does_not_wait_for_ever(
    tmp_path: Path,
) -> None:
    """aiosqlite 0.22 queues a second stop behind the first, for a thread that has ended, and
    close() after stop() awaits it for ever. SQLAlchemy terminates a connection whose query
    is cancelled in just that way, so a server stopped with a write in flight hung in
    asyncio.run's final cancellation (found by a burst of rings stopped at once)."""
    connection = await connect_sqlite(str(tmp_path / "stop.db"))
    assert list(await connection.execute_fetchall("SELECT 1")) == [(1,)]
    first = connection.stop()
    assert first is not None
    async with asyncio.timeout(5):
        with pytest.raises(ValueError, match="closed"):  # what SQLAlchemy then force-closes
            await connection.close()
    assert first.done()
    assert connection.stop() is first  # the thread is told once
