"""The live view picks up again by itself, in Debian's Chromium against the real stack: after
the camera drops out (its playlist's blocking reloads time out meanwhile) and after the
phone loses the network. No reload of the page, no tap.

Its own stack (the module-scoped `stack` fixture): the camera is stopped and started here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.conftest import wait_for
from tests.stack.harness import simcam, stop
from tests.web.conftest import PHONE, Stack, sign_in

PLAYING_S = 40  # bound on each wait for the video to move again


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    context = browser.new_context(base_url=stack.base, **PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page)
    page.get_by_role("link", name="front", exact=True).click()
    expect(page.get_by_label("Live video from front")).to_be_visible()
    wait_playing(page)
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


def test_live_picks_up_after_the_camera_drops_out(page: Page, stack: Stack) -> None:
    blocking: list[int] = []  # statuses of the live playlist's blocking reloads

    def seen(response: Response) -> None:
        if "/live.m3u8" in response.url and "_HLS_msn=" in response.url:
            blocking.append(response.status)

    page.on("response", seen)
    wait_playing(page)
    assert 200 in blocking, "the app does not use the playlist's blocking reload"
    stop(stack.camera)
    wait_for("the camera offline", lambda: not stack.server.camera("front")["online"], 30)
    # Longer than a blocking reload is held (3 s) and hls.js's retry of it. Waiting through
    # Playwright, not time.sleep: its sync API delivers page events only while it runs.
    page.wait_for_timeout(8_000)
    stack.camera = simcam(
        stack.server.publish_url("front"),
        stack.server.root / "camera-again.log",
        f"api_url={stack.base}",
        "test_pattern=smpte",
    )
    # Meanwhile a reload asked for a segment that did not come within 3 s: 503, and retried.
    assert 503 in blocking, blocking
    wait_for("the camera online", lambda: stack.server.camera("front")["online"], 60)
    wait_playing(page)
    assert blocking[-1] == 200, "blocking reloads did not resume"
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def test_live_picks_up_after_the_network_comes_back(page: Page) -> None:
    page.context.set_offline(True)
    page.wait_for_timeout(6_000)
    page.context.set_offline(False)
    wait_playing(page)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
