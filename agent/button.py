"""The doorbell button: a gpiozero Button whose presses become `ring` events on asyncio, and
`doorbell-agent ring`, the same press from the command line for machines without GPIO.

A press is never rate-limited and never waits behind motion: it is stamped in gpiozero's
thread at once, crosses to asyncio with `call_soon_threadsafe`, and goes straight into the
outbox with the uplink woken.

`doorbell-agent ring` writes the ring into the running agent's outbox file (SQLite copes with
two processes) and sends the agent SIGUSR1, on which the agent wakes its uplink; no polling.
If no agent runs, the ring waits in the outbox for the next start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from agent.config import AgentSettings
from agent.events import RING, Event
from agent.outbox import Outbox
from agent.status import live_agent_pid, read_status
from common.clock import wall_ms

logger = logging.getLogger(__name__)

WAKE_SIGNAL = signal.SIGUSR1


class DoorButton:
    """Calls `on_press(at_ms)` through `call_soon_threadsafe` for each debounced press.

    gpiozero picks its pin factory itself (lgpio on a Pi); tests set the mock factory.
    """

    def __init__(
        self,
        pin: int,
        bounce_ms: int,
        on_press: Callable[[int], None],
        call_soon_threadsafe: Callable[..., Any],
    ) -> None:
        from gpiozero import Button  # type: ignore[import-untyped]

        self._on_press = on_press
        self._call_soon_threadsafe = call_soon_threadsafe
        self._button = Button(pin, pull_up=True, bounce_time=bounce_ms / 1000 or None)
        self._button.when_pressed = self._pressed
        logger.info("button: GPIO%d (pull-up, bounce %d ms)", pin, bounce_ms)

    @property
    def pin(self) -> Any:
        """gpiozero's pin (a MockPin in tests: `drive_low()` is a press)."""
        return self._button.pin

    def _pressed(self) -> None:
        at_ms = wall_ms()  # stamped in gpiozero's thread: the capture time of the ring
        with contextlib.suppress(RuntimeError):  # the event loop closed during shutdown
            self._call_soon_threadsafe(self._on_press, at_ms)

    def close(self) -> None:
        self._button.when_pressed = None
        self._button.close()


def ring_event(camera: str, at_ms: int | None = None) -> Event:
    return Event.new(camera, RING, wall_ms() if at_ms is None else at_ms)


def ring_from_cli(settings: AgentSettings) -> str:
    """Store a ring in the outbox file and wake the running agent; what happened, in words."""
    event = ring_event(settings.camera)
    settings.outbox_path.parent.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(settings.outbox_path, settings.outbox_max_events)
    try:
        outbox.put(event)
    finally:
        outbox.close()
    status = read_status(settings.status_path)
    pid = live_agent_pid(status, wall_ms()) if status is not None else None
    if pid is None:
        return f"ring {event.id} queued; no running agent found, it is sent at the next start"
    try:
        os.kill(pid, WAKE_SIGNAL)
    except OSError as exc:
        return f"ring {event.id} queued; could not wake agent {pid} ({exc})"
    return f"ring {event.id} queued; agent {pid} woken"
