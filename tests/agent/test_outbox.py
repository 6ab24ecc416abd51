"""The durable outbox: order, durability across reopening, and the bound (rings never dropped)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from agent.errors import OutboxError
from agent.events import Event, Kind
from agent.outbox import Admission, AsyncOutbox, Outbox, admission

pytestmark = pytest.mark.anyio


def event(kind: Kind = "motion_start", at_ms: int = 1_790_000_000_000) -> Event:
    return Event.new("front-door", kind, at_ms)


# -- the drop decision, pure ----------------------------------------------------------------


def test_room_left_drops_nothing() -> None:
    assert admission(rings=2, motion=6, incoming="motion_start", max_events=10) == Admission(
        0, accept=True
    )
    assert admission(rings=0, motion=9, incoming="ring", max_events=10) == Admission(0, True)


def test_full_drops_the_oldest_motion_for_any_newcomer() -> None:
    assert admission(rings=3, motion=7, incoming="motion_end", max_events=10) == Admission(1, True)
    assert admission(rings=3, motion=7, incoming="ring", max_events=10) == Admission(1, True)


def test_rings_enter_a_box_full_of_rings_and_motion_does_not() -> None:
    assert admission(rings=10, motion=0, incoming="ring", max_events=10) == Admission(0, True)
    assert admission(rings=10, motion=0, incoming="motion_start", max_events=10) == Admission(
        0, accept=False
    )


def test_a_bound_lowered_since_last_run_is_restored_with_motion_only() -> None:
    # 30 events in a box now bounded at 10: 21 motion events go to fit the newcomer.
    assert admission(rings=5, motion=25, incoming="motion_start", max_events=10) == Admission(
        21, True
    )
    # Rings alone over the bound: all motion goes, the new motion event too, the ring stays.
    assert admission(rings=12, motion=3, incoming="motion_start", max_events=10) == Admission(
        3, accept=False
    )
    assert admission(rings=12, motion=3, incoming="ring", max_events=10) == Admission(3, True)


@pytest.mark.parametrize("max_events", [1, 2, 5])
def test_motion_never_exceeds_the_bound_and_rings_always_enter(max_events: int) -> None:
    rings = motion = 0
    for step in range(50):
        incoming: Kind = "ring" if step % 3 == 0 else "motion_start"
        decision = admission(rings=rings, motion=motion, incoming=incoming, max_events=max_events)
        assert 0 <= decision.drop_oldest_motion <= motion
        motion -= decision.drop_oldest_motion
        if incoming == "ring":
            assert decision.accept
            rings += 1
        elif decision.accept:
            motion += 1
        assert motion == 0 or rings + motion <= max_events


# -- the SQLite file ------------------------------------------------------------------------


def test_peek_is_oldest_first_and_remove_takes_exactly_the_given_events(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", max_events=100)
    events = [event(at_ms=1000 + i) for i in range(10)]
    for e in events:
        assert box.put(e)
    pending = box.peek(4)
    assert [p.event for p in pending] == events[:4]
    assert [p.seq for p in pending] == sorted(p.seq for p in pending)
    assert box.remove([pending[0].seq, pending[2].seq]) == 2
    assert box.remove([pending[0].seq]) == 0  # already gone: a no-op
    assert [p.event for p in box.peek(100)] == [events[1], events[3], *events[4:]]
    assert len(box) == box.count() == 8
    box.close()


def test_events_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = Outbox(path, max_events=100)
    ring = Event.new("front-door", "ring", 1_790_000_000_000)
    motion = Event.new("front-door", "motion_start", 1_790_000_000_500, 0.12, (0.1, 0.2, 0.3, 0.4))
    box.put(ring)
    box.put(motion)
    box.close()

    again = Outbox(path, max_events=100)
    assert [p.event for p in again.peek(10)] == [ring, motion]
    again.close()


def test_put_is_committed_to_the_file_before_it_returns(tmp_path: Path) -> None:
    """Another connection (another process after a crash) sees the event at once, and the
    file runs in WAL mode with synchronous=FULL (the fsync-per-commit setting)."""
    path = tmp_path / "outbox.db"
    box = Outbox(path, max_events=100)
    ring = event("ring")
    box.put(ring)
    other = sqlite3.connect(path)
    try:
        [(payload,)] = other.execute("SELECT payload FROM outbox").fetchall()
        assert json.loads(payload) == ring.to_payload(None)
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()


def test_sequence_numbers_are_never_reused(tmp_path: Path) -> None:
    """The uplink holds a seq while it sends; a new event must never take that number."""
    box = Outbox(tmp_path / "outbox.db", max_events=100)
    box.put(event())
    [first] = box.peek(1)
    box.remove([first.seq])
    box.put(event())
    [second] = box.peek(1)
    assert second.seq > first.seq
    box.close()


def test_putting_the_same_event_twice_stores_it_once(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", max_events=100)
    e = event("ring")
    assert box.put(e)
    assert box.put(e)
    assert box.count() == 1
    box.close()


def test_full_outbox_drops_oldest_motion_first_and_never_a_ring(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", max_events=4)
    m1, r1, m2, m3 = event("motion_start"), event("ring"), event("motion_end"), event()
    for e in (m1, r1, m2, m3):
        assert box.put(e)
    r2 = event("ring")
    assert box.put(r2)  # full: m1 (oldest motion) goes
    assert [p.event for p in box.peek(10)] == [r1, m2, m3, r2]
    m4 = event("motion_end")
    assert box.put(m4)  # m2 goes
    assert [p.event for p in box.peek(10)] == [r1, m3, r2, m4]
    assert box.dropped == 2

    rings = [event("ring") for _ in range(4)]
    for r in rings:
        assert box.put(r)  # m3, m4, then nothing left to drop: rings exceed the bound
    assert [p.event for p in box.peek(10)] == [r1, r2, *rings]
    assert not box.put(event("motion_start"))  # rings alone fill it: motion refused
    assert box.count() == 6
    assert box.dropped == 5
    box.close()


def test_an_unreadable_row_is_deleted_instead_of_blocking_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = Outbox(path, max_events=10)
    good = event("ring")
    box.put(event())
    box.put(good)
    with box._db:
        box._db.execute("UPDATE outbox SET payload = '{\"id\": 1}' WHERE seq = 1")
    assert [p.event for p in box.peek(10)] == [good]
    assert box.count() == 1
    assert box.dropped == 1
    box.close()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OutboxError, match=r"outbox .*outbox\.db: open failed"):
        Outbox(path, max_events=10)


def test_the_sync_outbox_is_safe_from_several_threads(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", max_events=10_000)

    def producer() -> None:
        for _ in range(25):
            box.put(event("ring"))

    threads = [threading.Thread(target=producer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box.count() == 100
    box.close()


# -- the asyncio face -----------------------------------------------------------------------


async def test_async_outbox_keeps_call_order_on_its_worker_thread(tmp_path: Path) -> None:
    box = await AsyncOutbox.open(tmp_path / "outbox.db", max_events=3)
    try:
        events = [event("ring"), event(), event(), event("ring")]
        for e in events:
            assert await box.put(e)
        pending = await box.peek(10)
        assert [p.event for p in pending] == [events[0], events[2], events[3]]
        assert box.dropped == 1
        assert await box.remove([pending[0].seq]) == 1
        assert await box.count() == 2
    finally:
        await box.aclose()
    with pytest.raises(RuntimeError):
        await box.count()
