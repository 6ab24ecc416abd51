"""The app as a person uses it, in Debian's Chromium against the real stack: sign in, watch
live, rewind, save a clip, see a ring arrive, delete events; in a phone viewport and a
desktop one. Elements are found by role and label, as a screen reader finds them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import wait_for
from tests.stack.harness import TOKEN
from tests.web.conftest import DESKTOP, PHONE, Stack, ffprobe, sign_in

VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture(params=list(VIEWPORTS))
def context(
    request: pytest.FixtureRequest, browser: Browser, stack: Stack
) -> Iterator[BrowserContext]:
    options = VIEWPORTS[request.param]
    made = browser.new_context(base_url=stack.base, accept_downloads=True, **options)
    made.set_default_timeout(15_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def signed_in(page: Page) -> Page:
    sign_in(page)
    expect(page.get_by_role("heading", name="Cameras")).to_be_visible()
    return page


def test_sign_in_refuses_a_wrong_password_then_lets_the_user_in(page: Page) -> None:
    sign_in(page, password="not the password")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile("wrong username or password", re.I))
    sign_in(page)
    expect(page.get_by_role("heading", name="Cameras")).to_be_visible()
    # The session is an HttpOnly cookie: the page's scripts cannot read it.
    assert "doorbell_session" not in page.evaluate("document.cookie")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["doorbell_session"]["httpOnly"] is True
    assert cookies["doorbell_session"]["sameSite"] == "Lax"


def test_live_video_plays_and_shows_the_door(page: Page) -> None:
    signed_in(page)
    page.get_by_role("link", name="front", exact=True).click()
    video = page.get_by_label("Live video from front")
    expect(video).to_be_visible()
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.currentTime > 1 }",
        timeout=20_000,
    )
    first = page.evaluate("document.querySelector('video').currentTime")
    page.wait_for_function(f"() => document.querySelector('video').currentTime > {first} + 1")
    assert not_blank(page), "the live frame drawn to a canvas is blank"
    latency = page.evaluate("window.__doorbell.player()?.latencyS() ?? null")
    assert latency is None or latency < 30, latency  # sanity only: speed is benchmarked


def not_blank(page: Page) -> bool:
    """A frame of the playing video drawn to a canvas has more than one colour."""
    spread: float = page.evaluate(
        """() => {
            const v = document.querySelector('video');
            const c = document.createElement('canvas');
            c.width = 160; c.height = 120;
            const g = c.getContext('2d');
            g.drawImage(v, 0, 0, c.width, c.height);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            let lo = 255, hi = 0;
            for (let i = 0; i < d.length; i += 4) {
                const y = (d[i] + d[i + 1] + d[i + 2]) / 3;
                lo = Math.min(lo, y); hi = Math.max(hi, y);
            }
            return hi - lo;
        }"""
    )
    return spread > 40


def slider_ms(page: Page, attribute: str) -> int:
    return int(
        page.get_by_role("slider", name="Time in the recording").get_attribute(attribute) or 0
    )


def test_rewind_back_and_forth_then_back_to_live(page: Page) -> None:
    signed_in(page)
    page.goto("/cameras/front/rewind")
    expect(page.get_by_role("slider", name="Time in the recording")).to_be_visible()
    page.wait_for_function("() => document.querySelector('video')?.currentTime > 0", timeout=20_000)
    oldest, newest = slider_ms(page, "aria-valuemin"), slider_ms(page, "aria-valuemax")
    opened_at = slider_ms(page, "aria-valuenow")
    # It opens a minute back (or at the oldest video a younger buffer holds).
    assert opened_at <= max(newest - 50_000, oldest + 5_000), (oldest, opened_at, newest)
    for _ in range(3):
        page.get_by_role("button", name="\u221210 s").click()  # a minus sign, as on the page
    floor = max(opened_at - 25_000, oldest + 2_000)
    page.wait_for_function(
        f"() => Number(document.querySelector('[role=slider]')"
        f".getAttribute('aria-valuenow')) <= {floor}"
    )
    back = slider_ms(page, "aria-valuenow")
    page.get_by_role("button", name="+10 s").click()
    page.wait_for_function(
        f"() => Number(document.querySelector('[role=slider]')"
        f".getAttribute('aria-valuenow')) >= {back + 8_000}"
    )
    page.wait_for_function("() => document.querySelector('video').readyState >= 2")
    assert not_blank(page)
    page.get_by_role("group", name="Playback").get_by_role("link", name="Live").click()
    expect(page.get_by_label("Live video from front")).to_be_visible()
    assert page.url.endswith("/cameras/front")


def test_save_the_last_ten_seconds_as_an_mp4(page: Page, tmp_path: Path) -> None:
    signed_in(page)
    page.goto("/cameras/front")
    panel = page.get_by_role("region", name="Save a clip")
    panel.get_by_role("button", name="10 s", exact=True).click()
    panel.get_by_role("button", name="Save clip").click()
    with page.expect_download() as download:
        panel.get_by_role("link", name="Download").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".mp4"
    probed = subprocess.run(
        [ffprobe(), "-v", "error", "-show_entries", "format=duration:stream=codec_name,width",
         "-of", "json", str(saved)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    info = json.loads(probed.stdout)
    assert info["streams"][0]["codec_name"] == "h264"
    assert info["streams"][0]["width"] == 640
    assert 9.0 <= float(info["format"]["duration"]) <= 12.0


def stored_rings(stack: Stack) -> list[dict[str, object]]:
    """The rings the server holds (its API, with the service token)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{stack.base}/api/v1/events?kind=ring&limit=200"
    events: list[dict[str, object]] = httpx.get(url, headers=headers, timeout=10).json()["events"]
    return events


def ring(stack: Stack) -> None:
    """Press the doorbell, as `doorbell-agent ring` does on the Pi."""
    config = str(stack.camera.args[-1])  # type: ignore[index]
    rang = subprocess.run(
        [sys.executable, "-m", "agent", "ring", "--config", config],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert rang.returncode == 0, rang.stderr


def test_a_ring_shows_a_banner_and_the_event_without_a_reload(page: Page, stack: Stack) -> None:
    signed_in(page)
    page.goto("/events")
    rows = page.get_by_role("link", name=re.compile("Ring", re.I))
    rows_before = len(stored_rings(stack))
    expect(rows).to_have_count(rows_before)  # the list has loaded
    ring(stack)
    banner = page.get_by_role("alert").filter(has_text="Someone rang at front")
    expect(banner).to_be_visible(timeout=20_000)
    expect(rows).to_have_count(rows_before + 1)
    banner.get_by_role("link", name="Open event").click()
    snapshot = page.get_by_role("region", name="Snapshot").get_by_role("img")
    expect(snapshot).to_be_visible(timeout=20_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].some(i => i.complete && i.naturalWidth >= 320)"
    )


def test_delete_one_event_then_clear_all(page: Page, stack: Stack) -> None:
    ring(stack)
    ring(stack)
    wait_for("two rings stored", lambda: len(stored_rings(stack)) >= 2, 30)
    signed_in(page)
    page.goto("/events")
    rows = page.get_by_role("link", name=re.compile("Ring", re.I))
    count = len(stored_rings(stack))
    expect(rows).to_have_count(count)
    page.get_by_role("button", name="Select").click()
    page.get_by_role("checkbox").first.check()
    page.get_by_role("button", name=re.compile(r"Delete \(1\)")).click()
    page.get_by_role("dialog").get_by_role("button", name=re.compile("Delete")).click()
    expect(rows).to_have_count(count - 1)
    page.get_by_role("button", name="Clear all").click()
    page.get_by_role("dialog").get_by_role("button", name=re.compile("Delete")).click()
    expect(rows).to_have_count(0)
    page.reload()
    expect(page.get_by_role("link", name=re.compile("Ring", re.I))).to_have_count(0)


def test_the_app_shell_opens_offline(context: BrowserContext) -> None:
    page = signed_in(context.new_page())
    page.wait_for_function(
        "async () => !!(await navigator.serviceWorker.getRegistration())?.active"
    )
    page.reload()  # now controlled by the service worker
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    context.set_offline(True)
    try:
        page.reload()
        expect(page.get_by_text(re.compile("offline", re.I)).first).to_be_visible()
    finally:
        context.set_offline(False)
    wait_for("the page is back online", lambda: page.evaluate("navigator.onLine"), 10)
