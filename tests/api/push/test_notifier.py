"""The routing notifier: a job's devices split by channel, each channel's share sent at once,
the results merged in the devices' order; one channel's trouble stays its own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from api.events.model import DeviceRecord, PushOutcome, WebPushKeys
from api.push import LoggingNotifier, Notifier, PushMessage, RoutingNotifier, SendResult
from tests.api.push.support import device, job
from tests.conftest import eventually

pytestmark = pytest.mark.anyio

KEYS = WebPushKeys(p256dh="p", auth="a")


@dataclass
class Channel:
    """A notifier that answers in reverse order, can leave devices out, fail, or hold."""

    outcome: PushOutcome = "sent"
    leave_out: frozenset[str] = frozenset()
    fail: bool = False
    gate: asyncio.Event | None = None
    calls: list[list[str]] = field(default_factory=list)
    closed: bool = False
    close_fails: bool = False

    async def send(self, message: PushMessage, devices: Sequence[DeviceRecord]) -> list[SendResult]:
        self.calls.append([d.id for d in devices])
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("channel exploded")
        results = [SendResult(d.id, self.outcome) for d in devices if d.id not in self.leave_out]
        return results[::-1]

    async def aclose(self) -> None:
        self.closed = True
        if self.close_fails:
            raise RuntimeError("close failed")


def web(name: str) -> DeviceRecord:
    return device(f"https://push.example.net/{name}", KEYS)


async def test_each_channel_gets_its_devices_and_results_keep_the_order() -> None:
    fcm, webpush = Channel("sent"), Channel("unregistered")
    routing = RoutingNotifier({"fcm": fcm, "web_push": webpush})
    devices = [device("a"), web("w1"), device("b"), web("w2")]
    results = await routing.send(job().message, devices)
    assert [(r.device_id, r.outcome) for r in results] == [
        ("dev-a", "sent"),
        ("dev-https://push.example.net/w1", "unregistered"),
        ("dev-b", "sent"),
        ("dev-https://push.example.net/w2", "unregistered"),
    ]
    assert fcm.calls == [["dev-a", "dev-b"]]
    assert webpush.calls == [["dev-https://push.example.net/w1", "dev-https://push.example.net/w2"]]


async def test_channels_are_sent_to_at_once() -> None:
    gate = asyncio.Event()
    fcm, webpush = Channel(gate=gate), Channel(gate=gate)
    routing = RoutingNotifier({"fcm": fcm, "web_push": webpush})
    sending = asyncio.create_task(routing.send(job().message, [device("a"), web("w")]))
    # Both channels are sending before either could finish.
    await eventually("both channels called", lambda: fcm.calls and webpush.calls)
    gate.set()
    assert [r.outcome for r in await sending] == ["sent", "sent"]


async def test_a_failing_channel_or_a_missing_one_is_an_error_for_its_devices_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    routing = RoutingNotifier({"fcm": Channel(fail=True)})
    results = await routing.send(job().message, [device("a"), web("w")])
    assert [(r.outcome, r.error) for r in results] == [
        ("error", "fcm notifier failed: channel exploded"),
        ("error", "no web_push notifier"),
    ]
    assert "the fcm notifier failed" in caplog.text
    working = RoutingNotifier({"fcm": Channel(), "web_push": Channel(fail=True)})
    results = await working.send(job().message, [device("a"), web("w")])
    assert [r.outcome for r in results] == ["sent", "error"]


async def test_a_device_a_channel_left_out_is_an_error() -> None:
    routing = RoutingNotifier({"fcm": Channel(leave_out=frozenset({"dev-b"}))})
    results = await routing.send(job().message, [device("a"), device("b")])
    assert [(r.outcome, r.error) for r in results] == [
        ("sent", None),
        ("error", "no result from fcm"),
    ]


async def test_aclose_closes_every_channel_even_when_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fcm, webpush = Channel(close_fails=True), Channel()
    await RoutingNotifier({"fcm": fcm, "web_push": webpush}).aclose()
    assert (fcm.closed, webpush.closed) == (True, True)
    assert "closing the fcm notifier failed" in caplog.text


async def test_the_logging_stand_in_says_why(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    results = await LoggingNotifier("Web Push is turned off").send(job().message, [web("w")])
    assert [(r.outcome, r.error) for r in results] == [("logged", "Web Push is turned off")]
    assert "push not sent (Web Push is turned off)" in caplog.text


def _typed() -> None:
    """mypy holds the stand-ins to the protocol."""
    notifiers: list[Notifier] = [Channel(), RoutingNotifier({}), LoggingNotifier()]
    del notifiers
