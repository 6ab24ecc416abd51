"""The live view picks up again by itself, in Debian's Chromium against the real stack: after
the camera drops out (its playlist's blocking reloads time out meanwhile) and after the
phone loses the network. No reload of the page, no tap.

Its own stack, with WebRTC off: this is the HLS player's recovery (live over WebRTC coming
back after the camera restarts is in test_webrtc.py). The camera is stopped and started here."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.stack.harness import simcam, stop
from tests.web.conftest import PHONE, Stack, require_chromium, sign_in, start_stack

PLAYING_S = 40  # bound on each wait for the video to move again


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_chromium()
    running = start_stack(tmp_path_factory.mktemp("hls-stack"), webrtc={"enabled": False})
    yield running
    stop(running.camera)
    running.server.stop()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    context = browser.new_context(base_url=stack.base, **PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page)
    page.get_by_role("link", name="front", exact=True).click()
    expect(page.get_by_label("Live video from front")).to_be_visible()
    wait_playing(page)
    # The server has WebRTC off: the app asked, and plays HLS.
    assert page.evaluate("window.__doorbell.player().transport") == "hls"
    page.evaluate("() => { window.__sameDocument = true }")  # gone if the page reloads
    yield page
    context.close()


def wait_playing(page: Page) -> None:
    """Until the video's time moves on by a second of playback (bounded)."""
    start = page.evaluate("document.querySelector('video')?.currentTime ?? 0")
    page.wait_for_function(
        f"() => (document.querySelector('video')?.currentTime ?? 0) > {start} + 1",
        timeout=PLAYING_S * 1000,
    )


def blocking_reload(status: int) -> Callable[[Response], bool]:
    """Matches an answer of `status` to a blocking reload of the live playlist (`_HLS_msn`)."""
    return lambda r: "/live.m3u8" in r.url and "_HLS_msn=" in r.url and r.status == status


def test_live_picks_up_after_the_camera_drops_out(page: Page, stack: Stack) -> None:
    # The app asks for each next segment's playlist, answered as the segment is made.
    with page.expect_response(blocking_reload(200), timeout=10_000):
        pass
    # A reload then asks for a segment that does not come within 3 s: 503, and hls.js goes on.
    with page.expect_response(blocking_reload(503), timeout=15_000):
        stop(stack.camera)
    with page.expect_response(blocking_reload(200), timeout=PLAYING_S * 1000):
        stack.camera = simcam(
            stack.server.publish_url("front"),
            stack.server.root / "camera-again.log",
            f"api_url={stack.base}",
            "test_pattern=smpte",
        )
    wait_playing(page)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def test_live_picks_up_after_the_network_comes_back(page: Page) -> None:
    page.context.set_offline(True)
    page.wait_for_timeout(6_000)
    page.context.set_offline(False)
    wait_playing(page)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
