"""Every screen of the app through axe-core (no serious or critical violation), in a phone
and a desktop viewport, in the light and the dark theme. With DOORBELL_SCREENSHOTS=<dir> it
also saves a phone-sized screenshot of each screen (docs/screenshots is made that way)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import wait_for
from tests.stack.harness import TOKEN
from tests.web.conftest import DESKTOP, PHONE, ROOT, Stack, screenshot_dir, sign_in
from tests.web.test_app import ring

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = ["cameras", "live", "rewind", "events", "event", "settings"]


@pytest.fixture(
    params=[("phone", "light"), ("phone", "dark"), ("desktop", "light")],
    ids=["phone-light", "phone-dark", "desktop-light"],
)
def context(
    request: pytest.FixtureRequest, browser: Browser, stack: Stack
) -> Iterator[BrowserContext]:
    viewport, scheme = request.param
    options: dict[str, Any] = PHONE if viewport == "phone" else DESKTOP
    # axe is injected as a script: only the test's context lifts the app's CSP for it.
    made = browser.new_context(base_url=stack.base, bypass_csp=True, color_scheme=scheme, **options)
    made.set_default_timeout(15_000)
    yield made
    made.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core findings on the page as it is now."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run scripts/bootstrap.sh (npm ci in web/)")
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def open_screen(page: Page, screen: str, event_id: str) -> None:
    paths = {
        "cameras": "/", "live": "/cameras/front", "rewind": "/cameras/front/rewind",
        "events": "/events", "event": f"/events/{event_id}", "settings": "/settings",
    }  # fmt: skip
    page.goto(paths[screen])
    expect(page.locator("main")).to_be_visible()
    if screen in ("live", "rewind"):
        page.wait_for_function(
            "() => document.querySelector('video')?.currentTime > 0", timeout=20_000
        )
    if screen == "event":
        expect(page.get_by_role("region", name="Snapshot")).to_be_visible()


@pytest.fixture(scope="module")
def event_id(stack: Stack) -> str:
    ring(stack)
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def newest() -> str | None:
        events = httpx.get(f"{stack.base}/api/v1/events", headers=headers, timeout=10).json()
        ready = [e for e in events["events"] if e["clip"]["state"] == "ready"]
        return ready[0]["id"] if ready else None

    return wait_for("a ring with its clip", newest, 60)


def test_every_screen_has_no_serious_accessibility_violation(
    context: BrowserContext, event_id: str, request: pytest.FixtureRequest
) -> None:
    page = context.new_page()
    page.goto("/sign-in")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    found = {"sign-in": axe_violations(page)}
    phone_light = request.node.callspec.params["context"] == ("phone", "light")
    shots = screenshot_dir() if phone_light else None
    if shots is not None:
        page.screenshot(path=str(shots / "sign-in.png"))
    sign_in(page)
    expect(page.get_by_role("heading", name="Cameras")).to_be_visible()
    for screen in SCREENS:
        open_screen(page, screen, event_id)
        found[screen] = axe_violations(page)
        if shots is not None:
            page.screenshot(path=str(shots / f"{screen}.png"))
    assert {screen: v for screen, v in found.items() if v} == {}
