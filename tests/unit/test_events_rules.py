"""Pure rules of the event domain: time placement, clip windows, retention, SSE, metrics."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace

import pytest
from pydantic import ValidationError

from api.hub import Hub, Notice, render
from api.ingest import AgentEvent, place_in_time, same_event, to_record
from api.metrics import Counter, Histogram
from api.recorder import ClipWindow
from api.records import EventRecord
from api.retention import decide

NOW = 1_790_000_000_000
DAY_S = 86_400


def agent_event(**changes: object) -> AgentEvent:
    fields: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "camera": "front",
        "kind": "ring",
        "at_ms": NOW - 1000,
    }
    fields.update(changes)
    return AgentEvent.model_validate(fields)


def record(kind: str = "ring", at_ms: int = NOW, **changes: object) -> EventRecord:
    base = to_record(agent_event(kind=kind, at_ms=at_ms), at_ms, at_ms + 50)
    return replace(base, **changes)  # type: ignore[arg-type]


class TestAgentEvent:
    def test_the_schema_fields_are_checked(self) -> None:
        with pytest.raises(ValidationError, match="kind"):
            agent_event(kind="knock")
        with pytest.raises(ValidationError, match="id"):
            agent_event(id="not-a-uuid")
        with pytest.raises(ValidationError, match="camera"):
            agent_event(camera="../etc")
        with pytest.raises(ValidationError, match="box"):
            agent_event(box=[0.1, 0.2, 1.5, 0.1])
        with pytest.raises(ValidationError, match="extra"):
            agent_event(colour="red")

    def test_optional_fields(self) -> None:
        event = agent_event(kind="motion_start", score=0.2, box=[0.1, 0.2, 0.3, 0.4])
        assert event.box == (0.1, 0.2, 0.3, 0.4)
        assert event.clock_offset_ms is None


class TestPlaceInTime:
    def test_the_offset_moves_the_event_onto_the_server_clock(self) -> None:
        event = agent_event(at_ms=NOW - 61_000, clock_offset_ms=60_000)
        verdict = place_in_time(event, NOW, 7 * DAY_S, 300)
        assert verdict.problem is None
        assert verdict.at_ms == NOW - 1000

    def test_far_future_with_an_offset_is_refused_for_good(self) -> None:
        event = agent_event(at_ms=NOW + 3_600_000, clock_offset_ms=0)
        verdict = place_in_time(event, NOW, 7 * DAY_S, 300)
        assert verdict.problem is not None
        assert "ahead" in verdict.problem
        assert "300 s" in verdict.problem
        assert not verdict.retry_with_offset

    def test_too_old_is_refused(self) -> None:
        event = agent_event(at_ms=NOW - 8 * DAY_S * 1000, clock_offset_ms=5)
        verdict = place_in_time(event, NOW, 7 * DAY_S, 300)
        assert verdict.problem is not None
        assert "old" in verdict.problem

    def test_an_unset_agent_clock_is_asked_to_measure_first(self) -> None:
        # A Pi without RTC before NTP: its clock says 1970.
        event = agent_event(at_ms=5_000)
        verdict = place_in_time(event, NOW, 7 * DAY_S, 300)
        assert verdict.problem is not None
        assert verdict.retry_with_offset

    def test_within_the_window(self) -> None:
        for at in (NOW - 7 * DAY_S * 1000 + 1, NOW + 299_000):
            assert place_in_time(agent_event(at_ms=at), NOW, 7 * DAY_S, 300).problem is None


class TestRecords:
    def test_rings_and_motion_starts_get_media_motion_ends_none(self) -> None:
        assert record("ring").clip_state == "pending"
        assert record("motion_start").snapshot_state == "pending"
        end = record("motion_end")
        assert (end.clip_state, end.snapshot_state) == ("none", "none")

    def test_a_retry_is_the_same_event_a_reused_id_is_not(self) -> None:
        first = record("ring")
        assert same_event(first, replace(first, received_ms=first.received_ms + 5000))
        assert not same_event(first, replace(first, kind="motion_start"))
        assert not same_event(first, replace(first, agent_at_ms=first.agent_at_ms + 1))


class TestClipWindow:
    window = ClipWindow(pre_ms=5000, post_ms=10_000, max_ms=120_000)

    def test_ring(self) -> None:
        ring = record("ring", NOW)
        assert self.window.start(ring) == NOW - 5000
        assert self.window.end(ring, None) == NOW + 10_000

    def test_motion_waits_for_its_end_up_to_the_cap(self) -> None:
        motion = record("motion_start", NOW)
        assert self.window.end(motion, None) == NOW + 120_000
        assert self.window.end(motion, NOW + 30_000) == NOW + 40_000
        assert self.window.end(motion, NOW + 500_000) == NOW + 120_000
        # An end reported before the start (clock noise) still gets the post-roll.
        assert self.window.end(motion, NOW - 1000) == NOW + 10_000


class TestRetention:
    def clip(self, at_ms: int, size: int) -> EventRecord:
        return record("ring", at_ms, clip_state="ready", clip_path=f"p{at_ms}", clip_bytes=size)

    def test_oldest_clips_go_until_under_budget(self) -> None:
        clips = [self.clip(NOW + i, 100) for i in range(5)]
        decision = decide([], clips, 250, lambda _p: False)
        assert decision.expire_clips == (clips[0].id, clips[1].id, clips[2].id)
        assert decision.delete_events == ()

    def test_a_clip_being_downloaded_is_kept_and_the_next_goes(self) -> None:
        clips = [self.clip(NOW + i, 100) for i in range(3)]
        leased = clips[0].clip_path
        decision = decide([], clips, 150, lambda p: p == leased)
        assert decision.expire_clips == (clips[1].id, clips[2].id)

    def test_old_events_go_and_their_bytes_count_as_freed(self) -> None:
        clips = [self.clip(NOW + i, 100) for i in range(3)]
        decision = decide([clips[0]], clips, 200, lambda _p: False)
        assert decision.delete_events == (clips[0].id,)
        assert decision.expire_clips == ()

    def test_an_old_event_being_downloaded_stays(self) -> None:
        clips = [self.clip(NOW, 100)]
        assert decide(clips, clips, 10**9, lambda _p: True).delete_events == ()


class TestHub:
    @pytest.mark.anyio
    async def test_a_slow_subscriber_loses_the_oldest_and_is_told(self) -> None:
        hub = Hub(queue_size=4)
        with hub.subscribe() as queue:
            for i in range(10):
                hub.publish(Notice("event", {"n": i}))
            got = [queue.get_nowait() for _ in range(queue.qsize())]
        kinds = [n.kind for n in got]
        assert "overflow" in kinds
        assert got[-1].data == {"n": 9}
        assert hub.subscribers == 0

    @pytest.mark.anyio
    async def test_stream_renders_notices_and_stops_on_disconnect(self) -> None:
        hub = Hub()
        gone = False

        async def disconnected() -> bool:
            return gone

        stream = hub.stream(disconnected, heartbeat_s=0.05)
        first = await anext(stream)  # subscribed from here on
        assert first.startswith("retry: 3000")
        assert hub.subscribers == 1
        assert await asyncio.wait_for(anext(stream), 5) == ": heartbeat\n\n"
        hub.publish(Notice("event", {"id": "x"}, id="x"))
        got = await asyncio.wait_for(anext(stream), 5)
        assert got == 'id: x\nevent: event\ndata: {"id":"x"}\n\n'
        gone = True
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(stream), 5)
        assert hub.subscribers == 0

    def test_render_is_one_json_line(self) -> None:
        text = render(Notice("event_updated", {"a": "multi\nline"}))
        data_line = next(line for line in text.splitlines() if line.startswith("data: "))
        assert json.loads(data_line[6:]) == {"a": "multi\nline"}


class TestMetrics:
    def test_counter_by_labels(self) -> None:
        counter = Counter("x_total", "help", ("kind",))
        counter.inc("ring")
        counter.inc("ring")
        counter.inc("motion_start")
        text = "\n".join(counter.render())
        assert 'x_total{kind="ring"} 2' in text
        assert 'x_total{kind="motion_start"} 1' in text
        with pytest.raises(ValueError, match="labels"):
            counter.inc()

    def test_histogram_buckets_are_cumulative(self) -> None:
        histogram = Histogram("lat_seconds", "help", buckets=(0.01, 0.1, 1.0))
        for value in (0.005, 0.05, 0.05, 0.5, 5.0):
            histogram.observe(value)
        lines = list(histogram.render())
        assert 'lat_seconds_bucket{le="0.01"} 1' in lines
        assert 'lat_seconds_bucket{le="0.1"} 3' in lines
        assert 'lat_seconds_bucket{le="1"} 4' in lines
        assert 'lat_seconds_bucket{le="+Inf"} 5' in lines
        assert "lat_seconds_count 5" in lines
