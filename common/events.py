"""The agent-event contract: what a doorbell posts to `POST /api/v1/agent/events`.

The JSON Schema (`schemas/event.schema.json`, draft 2020-12) is the contract; the agent's
`Event` and the server's `AgentEvent` both follow it, and tests/contract runs one table of
valid and invalid payloads through both.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any, Literal, get_args

EventKind = Literal["ring", "motion_start", "motion_end"]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

EVENT_SCHEMA = files("common") / "schemas" / "event.schema.json"


def event_schema() -> dict[str, Any]:
    """The payload's JSON Schema."""
    schema: dict[str, Any] = json.loads(EVENT_SCHEMA.read_text(encoding="utf-8"))
    return schema
