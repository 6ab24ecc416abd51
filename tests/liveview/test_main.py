"""The media worker's start: it says it is ready, and without GStreamer's WebRTC it exits 3
naming what to install (the API then logs it and the app plays HLS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liveview", json.dumps({"port_min": 0})],
        input="",  # stdin closed at once: a running worker stops
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=tmp_path,
        check=False,
    )


def test_the_worker_says_it_is_ready_and_stops_when_its_stdin_closes(tmp_path: Path) -> None:
    done = run(tmp_path)
    assert done.returncode == 0, done.stderr
    ready = json.loads(done.stdout.splitlines()[0])
    assert ready["op"] == "ready"
    assert ready["pid"] > 0


def test_without_gstreamers_webrtc_the_worker_exits_3_naming_the_packages(
    tmp_path: Path,
) -> None:
    # No plugins found: an empty plugin path and a fresh registry.
    hidden = {
        "GST_PLUGIN_SYSTEM_PATH_1_0": str(tmp_path / "none"),
        "GST_PLUGIN_PATH_1_0": str(tmp_path / "none"),
        "GST_REGISTRY_1_0": str(tmp_path / "registry.bin"),
    }
    done = run(tmp_path, hidden)
    assert done.returncode == 3, done.stderr
    assert "webrtcbin" in done.stderr
    assert "gstreamer1.0-plugins-bad" in done.stderr
    assert done.stdout == ""
