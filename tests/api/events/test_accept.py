"""What the server accepts from a doorbell (pure): the payload's rules, placement on the
server clock, and the record it becomes."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from pydantic import ValidationError

from api.events.accept import AgentEvent, place_in_time, same_event, to_record
from api.events.model import EventRecord

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
