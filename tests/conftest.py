"""Shared fixtures: required tools, media made faster than real time, bounded waits."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

REQUIRED_BINARIES = ("ffmpeg", "ffprobe", "nginx", "gst-launch-1.0")


def require_binary(name: str) -> str:
    """The binary's path. A missing one fails the test: CI must never skip silently."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make test` (scripts/bootstrap.sh --dev)")
    return path


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def wait_for(
    what: str, probe: Callable[[], T | None], timeout_s: float, interval_s: float = 0.1
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)  # polling interval of a bounded wait
    pytest.fail(f"timed out after {timeout_s:g}s waiting for {what} (last: {last!r})")


async def eventually(what: str, probe: Callable[[], T], timeout_s: float = 5.0) -> T:
    """`wait_for` on the event loop: poll `probe` until it is truthy, yielding to other tasks
    between looks; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g}s waiting for {what} (last: {value!r})")
        await asyncio.sleep(0.01)  # polling interval of a bounded wait


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def h264_file(media_dir: Path) -> Path:
    """40 s of 640x480 25 fps H.264 with a keyframe every second, made in ~2 s by lavfi."""
    ffmpeg = require_binary("ffmpeg")
    out = media_dir / "testsrc-40s.h264"
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25",
         "-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
         "-b:v", "1500k", "-f", "h264", str(out), "-y"],
        check=True,
        timeout=120,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def ts_segments(media_dir: Path, h264_file: Path) -> list[Path]:
    """A few 1-s MPEG-TS segments cut by ffmpeg's segment muxer from `h264_file`."""
    ffmpeg = require_binary("ffmpeg")
    out = media_dir / "segments"
    out.mkdir()
    subprocess.run(
        [ffmpeg, "-v", "error", "-framerate", "25", "-i", str(h264_file), "-t", "4",
         "-c", "copy", "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts",
         str(out / "seq-%09d.ts")],
        check=True,
        timeout=60,
    )  # fmt: skip
    return sorted(out.glob("seq-*.ts"))


@pytest.fixture
def cleanup() -> Iterator[list[Callable[[], None]]]:
    """Callbacks run at teardown, last first."""
    callbacks: list[Callable[[], None]] = []
    yield callbacks
    for callback in reversed(callbacks):
        callback()


@pytest.fixture(scope="session")
def seed_segments(media_dir: Path) -> list[Path]:
    """130 one-second MPEG-TS segments (640x480, 25 fps, 1-s GOP, ~1.5 Mbit/s), made faster
    than real time, with continuous timestamps like the segmenter's."""
    ffmpeg = require_binary("ffmpeg")
    out = media_dir / "seed"
    out.mkdir()
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25",
         "-t", "130", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "1500k",
         "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts",
         str(out / "seq-%09d.ts")],
        check=True,
        timeout=300,
    )  # fmt: skip
    return sorted(out.glob("seq-*.ts"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to run the agent's GStreamer tests and the server's in one process.

    GStreamer links libunwind, and PyGObject loads it with global symbols; greenlet (under
    SQLAlchemy's asyncio bridge) then unwinds its C++ exceptions with libunwind's
    `_Unwind_Resume` and the process dies of SIGSEGV the first time a query is cancelled.
    Production never mixes them: the server never loads GStreamer, the agent never loads
    SQLAlchemy. scripts/test.sh runs `pytest tests/agent` and `pytest --ignore=tests/agent`.
    """
    server_tests = [item for item in items if item.nodeid.startswith("tests/api/")]
    if server_tests and "gi.repository.Gst" in sys.modules:
        raise pytest.UsageError(
            "the agent's tests load GStreamer, which breaks the server's (greenlet and "
            "libunwind): run them in two processes, `pytest tests/agent` and "
            "`pytest --ignore=tests/agent` (scripts/test.sh and `make pytest` do)"
        )


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which plain mkdir and open make world-readable state (and
    which servers started meanwhile inherit)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    """A file's permission bits, the link itself when it is one."""
    return stat.S_IMODE(path.lstat().st_mode)
