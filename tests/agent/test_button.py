"""The button: a gpiozero mock-pin press becomes a `ring`, stamped with the time of the press,
at a real HTTP receiver; `doorbell-agent ring` queues a ring in the outbox file.

How fast a press reaches the server is a speed target, for bench/ (not a test here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gpiozero import Device  # type: ignore[import-untyped]
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]
from pydantic import SecretStr

from agent.button import DoorButton, ring_event, ring_from_cli
from agent.config import AgentSettings
from agent.outbox import AsyncOutbox, Outbox
from agent.uplink import Uplink
from common.clock import wall_ms
from tests.receiver import EventReceiver

PIN = 17


@pytest.fixture
def receiver() -> Iterator[EventReceiver]:
    receiver = EventReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def mock_pins() -> Iterator[MockFactory]:
    factory = MockFactory()
    previous, Device.pin_factory = Device.pin_factory, factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


@pytest.mark.anyio
async def test_a_mock_pin_press_delivers_a_ring_stamped_at_the_press(
    tmp_path: Path, receiver: EventReceiver, mock_pins: MockFactory
) -> None:
    loop = asyncio.get_running_loop()
    outbox = await AsyncOutbox.open(tmp_path / "outbox.sqlite3", 100)
    presses: asyncio.Queue[int] = asyncio.Queue(8)
    async with httpx.AsyncClient() as client:
        uplink = Uplink(outbox, receiver.url, "token", client)
        uplink.start()

        async def rings() -> None:  # as AgentApp wires it
            while True:
                await uplink.submit(ring_event("front", await presses.get()))

        consumer = asyncio.create_task(rings())
        button = DoorButton(PIN, 0, presses.put_nowait, loop.call_soon_threadsafe)
        try:
            # A warm-up press opens the HTTP connection, as a running agent's would be.
            button.pin.drive_low()
            await asyncio.to_thread(receiver.arrived.wait, 5)
            button.pin.drive_high()
            receiver.arrived.clear()
            pressed = time.monotonic()
            before_ms = wall_ms()
            button.pin.drive_low()  # the mock pin calls gpiozero's handler in this thread
            after_ms = wall_ms()
            assert await asyncio.to_thread(receiver.arrived.wait, 5)
            last = receiver.arrivals[-1]
            body = last.body
            print(f"press -> ring at the receiver: {(last.at - pressed) * 1000:.1f} ms")
            assert body["kind"] == "ring"
            assert body["camera"] == "front"
            # The capture time is the press's, stamped in gpiozero's thread, not the send's.
            assert before_ms <= body["at_ms"] <= after_ms
            assert [a.body["kind"] for a in receiver.arrivals] == ["ring", "ring"]
        finally:
            button.close()
            consumer.cancel()
            await uplink.aclose()
            await outbox.aclose()


def test_ring_command_queues_a_ring_in_the_outbox_without_a_running_agent(
    tmp_path: Path,
) -> None:
    settings = AgentSettings(
        camera="front",
        relay_url="rtmp://127.0.0.1:1935/live",
        stream_key=SecretStr("k"),
        api_url="http://127.0.0.1:9",
        device_token=SecretStr("t"),
        outbox_path=tmp_path / "state" / "outbox.sqlite3",
        status_path=tmp_path / "state" / "status.json",
    )
    before_ms = wall_ms()
    message = ring_from_cli(settings)
    after_ms = wall_ms()
    assert "no running agent" in message
    outbox = Outbox(settings.outbox_path, 10)
    try:
        (pending,) = outbox.peek(10)
    finally:
        outbox.close()
    assert pending.event.kind == "ring"
    assert pending.event.id in message
    assert before_ms <= pending.event.at_ms <= after_ms
