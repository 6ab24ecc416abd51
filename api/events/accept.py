"""What the server accepts from a doorbell agent (POST /api/v1/agent/events), as pure rules:
the payload's shape (the agent's JSON schema), and its time mapped onto the server clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

from api.events.model import Box, EventRecord
from common.clock import MAX_EPOCH_MS
from common.events import EventKind
from common.ids import CAMERA_ID_PATTERN, UUID_PATTERN

# About 30 years: anything larger is not a clock offset but a broken clock or payload.
MAX_OFFSET_MS = 30 * 365 * 86_400_000
# Kinds that get a snapshot and a saved clip (motion_end closes its motion_start's clip).
RECORDED: frozenset[EventKind] = frozenset({"ring", "motion_start"})

Unit = Annotated[float, Field(ge=0, le=1)]
# Integers as JSON numbers only: pydantic would also take "1790000000000" (the schema not).
Int = Annotated[int, Strict()]


class AgentEvent(BaseModel):
    """The body of POST /api/v1/agent/events (common/schemas/event.schema.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=UUID_PATTERN, description="lowercase hyphenated UUID, by the agent")
    camera: str = Field(pattern=CAMERA_ID_PATTERN)
    kind: EventKind
    at_ms: Int = Field(
        ge=0, le=MAX_EPOCH_MS, description="capture time, UTC epoch ms on the agent's clock"
    )
    score: float | None = Field(default=None, ge=0, le=1)
    box: tuple[Unit, Unit, Unit, Unit] | None = None
    clock_offset_ms: Int | None = Field(
        default=None,
        ge=-MAX_OFFSET_MS,
        le=MAX_OFFSET_MS,
        description="server clock minus agent clock, as the agent measured it",
    )


@dataclass(frozen=True, slots=True)
class TimeVerdict:
    """Where an event lands on the server clock, and why it is refused if it is."""

    at_ms: int
    problem: str | None = None
    # True: retry once the agent has measured its clock offset (425); False: never (422).
    retry_with_offset: bool = False


def place_in_time(event: AgentEvent, now_ms: int, max_age_s: int, max_future_s: int) -> TimeVerdict:
    """Map the agent's time onto the server clock and check it is near now.

    Without an offset, a time far from now is most likely an agent clock not yet set (a Pi
    has no RTC until NTP): the agent is asked to retry after measuring the offset from this
    very answer, rather than the event being refused for good or put at the wrong time.
    """
    at_ms = event.at_ms + (event.clock_offset_ms or 0)
    ahead_s = (at_ms - now_ms) / 1000
    behind_s = (now_ms - at_ms) / 1000
    problem = None
    if ahead_s > max_future_s:
        problem = (
            f"at_ms is {ahead_s:.0f} s ahead of the server clock (at_ms + clock_offset_ms); "
            f"allowed: at most {max_future_s} s ahead"
        )
    elif behind_s > max_age_s:
        problem = (
            f"at_ms is {behind_s:.0f} s before the server clock (at_ms + clock_offset_ms); "
            f"allowed: at most {max_age_s} s old"
        )
    if problem is None:
        return TimeVerdict(at_ms)
    return TimeVerdict(at_ms, problem, retry_with_offset=event.clock_offset_ms is None)


def to_record(event: AgentEvent, at_ms: int, received_ms: int) -> EventRecord:
    recorded = event.kind in RECORDED
    box: Box | None = event.box
    return EventRecord(
        id=event.id,
        camera=event.camera,
        kind=event.kind,
        at_ms=at_ms,
        agent_at_ms=event.at_ms,
        clock_offset_ms=event.clock_offset_ms,
        received_ms=received_ms,
        score=event.score,
        box=box,
        snapshot_state="pending" if recorded else "none",
        clip_state="pending" if recorded else "none",
    )


def same_event(stored: EventRecord, again: EventRecord) -> bool:
    """A repeat of one event (a retry) rather than a different event reusing its id."""
    return (stored.camera, stored.kind, stored.agent_at_ms) == (
        again.camera,
        again.kind,
        again.agent_at_ms,
    )
