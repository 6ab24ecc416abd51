"""The agent's event value type and its wire payload (the contract:
common/schemas/event.schema.json)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from common.clock import MAX_EPOCH_MS
from common.events import EVENT_KINDS, EventKind, event_schema
from common.ids import CAMERA_ID_PATTERN, is_camera_id

# The contract test checks the agent's rules against the schema through these names.
__all__ = ["CAMERA_ID_PATTERN", "KINDS", "RING", "Box", "Event", "Kind", "event_schema"]

Kind = EventKind
KINDS = EVENT_KINDS
RING: Kind = "ring"

Box = tuple[float, float, float, float]
_FIELDS = frozenset({"id", "camera", "kind", "at_ms", "score", "box"})


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unit(value: object) -> bool:
    """A finite number in 0..1 (NaN fails both comparisons)."""
    return _is_number(value) and 0 <= cast(float, value) <= 1


@dataclass(frozen=True, slots=True)
class Event:
    """One ring or motion edge, stamped with the agent's capture time (UTC epoch ms).

    `box` is (x, y, w, h) normalised to 0..1 of the frame. Invalid values raise ValueError,
    so anything that exists as an Event is a valid payload.
    """

    id: str
    camera: str
    kind: Kind
    at_ms: int
    score: float | None = None
    box: Box | None = None

    def __post_init__(self) -> None:
        try:
            canonical = str(uuid.UUID(self.id))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"event id must be a UUID, got {self.id!r}") from exc
        if canonical != self.id:
            raise ValueError(f"event id must be a lowercase hyphenated UUID, got {self.id!r}")
        if not isinstance(self.camera, str) or not is_camera_id(self.camera):
            raise ValueError(f"camera must match {CAMERA_ID_PATTERN}, got {self.camera!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if (
            not isinstance(self.at_ms, int)
            or isinstance(self.at_ms, bool)
            or not 0 <= self.at_ms <= MAX_EPOCH_MS
        ):
            raise ValueError(
                f"at_ms must be an integer from 0 to {MAX_EPOCH_MS}, got {self.at_ms!r}"
            )
        if self.score is not None and not _unit(self.score):
            raise ValueError(f"score must be a number in 0..1, got {self.score!r}")
        if self.box is not None and (
            not isinstance(self.box, tuple) or len(self.box) != 4 or not all(map(_unit, self.box))
        ):
            raise ValueError(f"box must be 4 numbers (x, y, w, h) in 0..1, got {self.box!r}")

    @classmethod
    def new(
        cls,
        camera: str,
        kind: Kind,
        at_ms: int,
        score: float | None = None,
        box: Box | None = None,
    ) -> Event:
        """A new event with a fresh uuid4."""
        return cls(str(uuid.uuid4()), camera, kind, at_ms, score, box)

    @property
    def is_ring(self) -> bool:
        return self.kind == RING

    def to_payload(self, clock_offset_ms: int | None = None) -> dict[str, Any]:
        """The exact JSON body of `POST /api/v1/agent/events`; absent optional fields omitted.

        `clock_offset_ms` is server clock minus agent clock, as measured by the uplink.
        """
        payload: dict[str, Any] = {
            "id": self.id,
            "camera": self.camera,
            "kind": self.kind,
            "at_ms": self.at_ms,
        }
        if self.score is not None:
            payload["score"] = float(self.score)
        if self.box is not None:
            payload["box"] = [float(v) for v in self.box]
        if clock_offset_ms is not None:
            payload["clock_offset_ms"] = int(clock_offset_ms)
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Event:
        """The inverse of `to_payload(None)` (how the outbox stores events). Raises ValueError."""
        unknown = set(payload) - _FIELDS
        if unknown:
            raise ValueError(f"unknown event fields: {', '.join(sorted(unknown))}")
        missing = {"id", "camera", "kind", "at_ms"} - set(payload)
        if missing:
            raise ValueError(f"missing event fields: {', '.join(sorted(missing))}")
        box = payload.get("box")
        if box is not None:
            if not isinstance(box, list | tuple) or len(box) != 4:
                raise ValueError(f"box must be 4 numbers, got {box!r}")
            box = (box[0], box[1], box[2], box[3])
        return cls(
            id=payload["id"],
            camera=payload["camera"],
            kind=payload["kind"],
            at_ms=payload["at_ms"],
            score=payload.get("score"),
            box=box,
        )
