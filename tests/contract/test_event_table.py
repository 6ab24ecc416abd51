"""One table of agent-event payloads, valid and invalid, run through both sides of the wire:
the JSON schema (the contract), the server's `AgentEvent` (what it accepts) and the agent's
`Event` (what it can ever put in its outbox). Where they disagree, the test says which."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from agent.events import Event
from api.events.accept import AgentEvent
from common.clock import MAX_EPOCH_MS
from tests.contract.test_event_schema import schema_errors

EVENT_ID = "0b7c3a52-0f1e-4d8e-9a57-3f3b8f6c2d10"
BASE: dict[str, Any] = {
    "id": EVENT_ID,
    "camera": "front",
    "kind": "ring",
    "at_ms": 1_790_000_000_000,
}

# (what, the change to BASE, valid on the wire). Every row is checked on both sides.
TABLE: list[tuple[str, dict[str, Any], bool]] = [
    ("a ring", {}, True),
    ("motion with score and box", {"kind": "motion_start", "score": 0.25,
                                   "box": [0.0, 0.5, 0.25, 1.0]}, True),
    ("motion end", {"kind": "motion_end"}, True),
    ("a clock offset", {"clock_offset_ms": -120_000}, True),
    ("time zero", {"at_ms": 0}, True),
    ("the last instant of year 9999", {"at_ms": MAX_EPOCH_MS}, True),
    ("past year 9999", {"at_ms": MAX_EPOCH_MS + 1}, False),
    ("a time of 400 digits", {"at_ms": int("9" * 400)}, False),
    ("the edges of a unit", {"score": 1, "box": [1, 1, 0, 0]}, True),
    ("an unknown kind", {"kind": "knock"}, False),
    ("an unknown field", {"colour": "red"}, False),
    ("an uppercase id", {"id": EVENT_ID.upper()}, False),
    ("an id that is no UUID", {"id": "not-a-uuid"}, False),
    ("a camera with capitals", {"camera": "Front"}, False),
    ("a camera id too long", {"camera": "x" * 33}, False),
    ("a camera with a trailing newline", {"camera": "front\n"}, False),
    ("a camera starting with a dash", {"camera": "-front"}, False),
    ("a negative time", {"at_ms": -1}, False),
    ("a fractional time", {"at_ms": 1.5}, False),
    ("a time as a string", {"at_ms": "1790000000000"}, False),
    ("a score above 1", {"score": 1.5}, False),
    ("a box of three", {"box": [0.1, 0.2, 0.3]}, False),
    ("a box of five", {"box": [0.1, 0.2, 0.3, 0.4, 0.5]}, False),
    ("a box beyond the frame", {"box": [0.1, 0.2, 0.3, 1.2]}, False),
    ("a fractional offset", {"clock_offset_ms": 12.5}, False),
    ("a null id", {"id": None}, False),
]  # fmt: skip
IDS = [row[0] for row in TABLE]


def payload(change: dict[str, Any]) -> dict[str, Any]:
    return {**BASE, **change}


@pytest.mark.parametrize(("what", "change", "valid"), TABLE, ids=IDS)
def test_the_schema(what: str, change: dict[str, Any], valid: bool) -> None:
    assert (schema_errors(payload(change)) == []) is valid


@pytest.mark.parametrize(("what", "change", "valid"), TABLE, ids=IDS)
def test_the_server_accepts_exactly_what_the_schema_does(
    what: str, change: dict[str, Any], valid: bool
) -> None:
    body = json.dumps(payload(change))
    if valid:
        AgentEvent.model_validate_json(body)
    else:
        with pytest.raises(ValidationError):
            AgentEvent.model_validate_json(body)


@pytest.mark.parametrize(("what", "change", "valid"), TABLE, ids=IDS)
def test_the_agent_makes_only_what_the_server_accepts(
    what: str, change: dict[str, Any], valid: bool
) -> None:
    """The agent's Event refuses every invalid event (so none waits in its outbox for a 422),
    and a valid one goes on the wire exactly as the table has it."""
    fields = payload(change)
    offset = fields.pop("clock_offset_ms", None)
    if not valid and "clock_offset_ms" in change:
        # The agent measures the offset itself and sends it as an integer, whatever it is.
        sent = Event.from_payload(fields).to_payload(offset)
        assert schema_errors(sent) == []
        return
    if not valid:
        with pytest.raises(ValueError, match=r"must|unknown|missing"):
            Event.from_payload(fields)
        return
    event = Event.from_payload(fields)
    assert event.to_payload(offset) == payload(change) | (
        {} if offset is None else {"clock_offset_ms": offset}
    )
