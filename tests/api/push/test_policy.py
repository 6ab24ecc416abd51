"""Who gets a push: camera subscriptions, quiet hours across midnight and zones, the motion
cooldown and retry delays, all on fake clocks."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from api.events.model import DeviceRecord, EventRecord, QuietHours
from api.push.policy import MotionCooldown, RingCollapse, in_quiet_hours, recipients, retry_delay
from common.events import EventKind

BERLIN = "Europe/Berlin"


def event(kind: EventKind = "ring", camera: str = "front", at_ms: int = 0) -> EventRecord:
    return EventRecord(
        id="0b7e2f5c-6d1a-4f43-9a34-3c1f2e8d9a10", camera=camera, kind=kind, at_ms=at_ms,
        agent_at_ms=at_ms, clock_offset_ms=0, received_ms=at_ms,
    )  # fmt: skip


def device(
    name: str,
    *,
    cameras: tuple[str, ...] | None = None,
    motion: bool = True,
    quiet: QuietHours | None = None,
) -> DeviceRecord:
    return DeviceRecord(
        id=f"id-{name}", token=f"tok-{name}", platform="android", name=name, cameras=cameras,
        motion=motion, quiet_hours=quiet, created_ms=0, updated_ms=0,
    )  # fmt: skip


def local_ms(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> int:
    """Epoch ms of a wall-clock time in `zone`."""
    moment = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))
    return int(moment.timestamp() * 1000)


NIGHT = QuietHours(start="22:00", end="07:00", timezone=BERLIN)


def test_camera_filter_none_means_every_camera() -> None:
    everything = device("all")
    front_only = device("front", cameras=("front",))
    back_only = device("back", cameras=("back", "garage"))
    devices = [everything, front_only, back_only]
    assert recipients(event("ring", "front"), devices, 0) == [everything, front_only]
    assert recipients(event("ring", "garage"), devices, 0) == [everything, back_only]
    assert recipients(event("ring", "side"), devices, 0) == [everything]


def test_rings_ignore_motion_preference_and_quiet_hours() -> None:
    sleeping = device("sleeping", motion=False, quiet=NIGHT)
    at_night = local_ms(BERLIN, 2024, 7, 1, 23, 30)
    assert in_quiet_hours(NIGHT, at_night)
    assert recipients(event("ring"), [sleeping], at_night) == [sleeping]


def test_motion_only_to_devices_that_want_it_outside_quiet_hours() -> None:
    wants = device("wants")
    declines = device("declines", motion=False)
    sleeping = device("sleeping", quiet=NIGHT)
    devices = [wants, declines, sleeping]
    at_night = local_ms(BERLIN, 2024, 7, 1, 23, 30)
    at_noon = local_ms(BERLIN, 2024, 7, 1, 12, 0)
    assert recipients(event("motion_start"), devices, at_night) == [wants]
    assert recipients(event("motion_start"), devices, at_noon) == [wants, sleeping]


def test_motion_end_is_never_pushed() -> None:
    assert recipients(event("motion_end"), [device("a"), device("b")], 0) == []


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(21, 59, False), (22, 0, True), (23, 59, True), (0, 0, True), (6, 59, True),
     (7, 0, False), (12, 0, False)],
)  # fmt: skip
def test_window_wrapping_midnight(hour: int, minute: int, quiet: bool) -> None:
    assert in_quiet_hours(NIGHT, local_ms(BERLIN, 2024, 1, 15, hour, minute)) is quiet


def test_window_within_a_day() -> None:
    work = QuietHours(start="09:00", end="17:30", timezone=BERLIN)
    assert not in_quiet_hours(work, local_ms(BERLIN, 2024, 1, 15, 8, 59))
    assert in_quiet_hours(work, local_ms(BERLIN, 2024, 1, 15, 9, 0))
    assert in_quiet_hours(work, local_ms(BERLIN, 2024, 1, 15, 17, 29))
    assert not in_quiet_hours(work, local_ms(BERLIN, 2024, 1, 15, 17, 30))


def test_window_is_read_in_the_devices_zone() -> None:
    instant = local_ms("UTC", 2024, 1, 15, 4, 0)  # 05:00 Berlin, 23:00 New York, 13:00 Tokyo
    assert in_quiet_hours(NIGHT, instant)
    assert in_quiet_hours(QuietHours("22:00", "07:00", "America/New_York"), instant)
    assert not in_quiet_hours(QuietHours("22:00", "07:00", "Asia/Tokyo"), instant)


def test_window_follows_daylight_saving() -> None:
    # 05:30 UTC is 06:30 in Berlin in winter (quiet) and 07:30 in summer (not).
    assert in_quiet_hours(NIGHT, local_ms("UTC", 2024, 3, 30, 5, 30))
    assert not in_quiet_hours(NIGHT, local_ms("UTC", 2024, 3, 31, 5, 30))


def test_equal_start_and_end_is_no_window() -> None:
    same = QuietHours(start="22:00", end="22:00", timezone=BERLIN)
    for hour in range(24):
        assert not in_quiet_hours(same, local_ms(BERLIN, 2024, 1, 15, hour, 0))


@pytest.mark.parametrize(
    "quiet",
    [QuietHours("22:00", "07:00", "Mars/Olympus_Mons"), QuietHours("25:00", "07:00", BERLIN),
     QuietHours("22h", "07:00", BERLIN)],
)  # fmt: skip
def test_unreadable_window_does_not_mute(
    quiet: QuietHours, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    at_night = local_ms(BERLIN, 2024, 1, 15, 23, 0)
    assert not in_quiet_hours(quiet, at_night)
    assert recipients(event("motion_start"), [device("x", quiet=quiet)], at_night) != []
    assert "unreadable quiet hours" in caplog.text


def test_cooldown_one_motion_push_per_camera_per_window() -> None:
    cooldown = MotionCooldown(60_000)
    assert cooldown.allow("front", 1_000_000)
    assert not cooldown.allow("front", 1_000_000 + 59_999)
    assert cooldown.allow("back", 1_000_000 + 30_000)  # cameras are independent
    assert cooldown.allow("front", 1_000_000 + 60_000)
    # The window restarts only when a push was allowed.
    assert not cooldown.allow("front", 1_000_000 + 119_999)
    assert cooldown.allow("front", 1_000_000 + 120_000)


def test_cooldown_survives_a_clock_stepped_back() -> None:
    cooldown = MotionCooldown(60_000)
    assert cooldown.allow("front", 10_000_000)
    assert not cooldown.allow("front", 10_000_000 - 30_000)
    assert cooldown.allow("front", 10_000_000 - 3_600_000)


def test_cooldown_keeps_one_entry_per_camera() -> None:
    cooldown = MotionCooldown(1_000)
    for i in range(10_000):
        cooldown.allow(("front", "back")[i % 2], i * 700)
    assert len(cooldown._last_ms) == 2


def test_zero_cooldown_allows_everything() -> None:
    cooldown = MotionCooldown(0)
    assert all(cooldown.allow("front", 5) for _ in range(3))


def test_retry_delay_doubles_with_jitter_and_cap() -> None:
    assert retry_delay(1, 1.0, 30.0, None, 0.0) == 0.5
    assert retry_delay(1, 1.0, 30.0, None, 0.999) == pytest.approx(0.9995)
    assert retry_delay(3, 1.0, 30.0, None, 0.0) == 2.0
    assert retry_delay(10, 1.0, 30.0, None, 0.0) == 15.0
    assert retry_delay(10, 1.0, 30.0, None, 0.999) < 30.0
    assert retry_delay(10_000, 1.0, 30.0, None, 0.0) == 15.0  # no overflow


def test_retry_after_wins_when_longer_even_past_the_cap() -> None:
    assert retry_delay(1, 1.0, 30.0, 0.1, 0.0) == 0.5  # shorter: our backoff
    assert retry_delay(1, 1.0, 30.0, 7.0, 0.0) == 7.0
    assert retry_delay(1, 1.0, 30.0, 120.0, 0.0) == 120.0


def test_rings_of_one_camera_collapse_into_one_push_per_window() -> None:
    collapse = RingCollapse(5_000)
    assert collapse.allow("front", 1_000_000)
    assert not any(collapse.allow("front", 1_000_000 + ms) for ms in range(1, 5_000, 240))
    assert collapse.allow("back", 1_000_000 + 100)  # cameras are independent
    assert collapse.allow("front", 1_000_000 + 5_000)  # the next window pushes again
    assert not collapse.allow("front", 1_000_000 + 9_999)


def test_a_collapse_window_of_zero_pushes_every_ring() -> None:
    collapse = RingCollapse(0)
    assert all(collapse.allow("front", 1_000_000) for _ in range(30))
