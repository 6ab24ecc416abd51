"""The agent's Event refuses what the server would (the rest is in tests/contract)."""

from __future__ import annotations

import pytest

from agent.events import Event

EVENT_ID = "0b7c3a52-0f1e-4d8e-9a57-3f3b8f6c2d10"


@pytest.mark.parametrize("camera", ["front\n", "\nfront", "front door", ""])
def test_a_camera_id_with_anything_around_it_is_refused(camera: str) -> None:
    # A regex `$` also matches before a final newline: the whole value must be the id.
    with pytest.raises(ValueError, match="camera must match"):
        Event(EVENT_ID, camera, "ring", 1_790_000_000_000)


def test_a_good_camera_id_is_taken() -> None:
    assert Event(EVENT_ID, "front_door-2", "ring", 0).camera == "front_door-2"
