"""Browser tests of the app against the real stack: the server (with its nginx-rtmp relay)
serving the built app (web/dist), a doorbell agent publishing its test scene, a user made with
`doorbell user add`, and Debian's Chromium driven by Playwright (never a downloaded browser).

One stack per module (it takes seconds to start); each test gets fresh browser contexts, in a
phone viewport (390x844, touch) and a desktop one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.conftest import wait_for
from tests.stack.harness import Server, simcam, stop

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    # Media plays without a user gesture in tests, as it does after a tap on a phone.
    "--autoplay-policy=no-user-gesture-required",
]
USER, PASSWORD = "alice", "correct horse battery"
KEYS = {"front": "front-stream-key-0123456789"}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}


def require_chromium() -> str:
    """Debian's Chromium; a missing one (or a missing app build) fails: CI never skips."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh --dev (apt chromium)")
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail("web/dist is not built: run scripts/bootstrap.sh (npm ci, npm run build)")
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@dataclass
class Stack:
    """The real server with a publishing doorbell, and a user who can sign in."""

    server: Server
    camera: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return self.server.base

    def doorbell(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """`doorbell ARGS --config <the server's>` (the CLI, as an admin runs it)."""
        return subprocess.run(
            [sys.executable, "-m", "api", *args, "--config", str(self.server.config)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def start_stack(root: Path, webrtc: dict[str, Any] | None = None) -> Stack:
    """The stack; `webrtc` are its [webrtc] settings (the defaults without)."""
    # Tests ring one after another on one stack: each expects its own ring's push, none
    # collapsed into the one before (push.ring_collapse_s has its tests in tests/api).
    extra = {"web_dir": str(WEB_DIST), "push": {"web_push_local": True, "ring_collapse_s": 0}}
    server = Server(root, dict(KEYS), buffer_seconds=120, extra=extra, webrtc_extra=webrtc or {})
    server.start()
    # The doorbell posts its events to this server (a ring from `doorbell-agent ring`).
    camera = simcam(
        server.publish_url("front"),
        root / "camera.log",
        f"api_url={server.base}",
        "test_pattern=smpte",  # colour bars with a moving patch: screenshots show a picture
    )
    added = Stack(server, camera).doorbell("user", "add", USER, "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    wait_for("video in the buffer", lambda: server.camera("front")["buffer"]["segments"] >= 3, 60)
    return Stack(server, camera)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_chromium()
    running = start_stack(tmp_path_factory.mktemp("web-stack"))
    yield running
    stop(running.camera)
    running.server.stop()


def sign_in(page: Page, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person does, and wait for the cameras."""
    page.goto("/")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def screenshot_dir() -> Path | None:
    """Where to save screenshots of the main screens (DOORBELL_SCREENSHOTS), if anywhere."""
    target = os.environ.get("DOORBELL_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path


def ffprobe() -> str:
    found = shutil.which("ffprobe")
    if found is None:
        pytest.fail("ffprobe is missing: run scripts/bootstrap.sh --dev")
    return found
