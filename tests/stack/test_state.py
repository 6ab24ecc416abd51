"""One server per state, private state, with real processes: a second `doorbell serve` on the
same directories is refused before it touches anything, and the first one records on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from api.cli import EXIT_IN_USE
from api.video.cachedir import OWN_PREFIX
from tests.conftest import mode, wait_for
from tests.stack.harness import Server, ffmpeg_publisher, stop

pytestmark = pytest.mark.stack

KEY = "front-stream-key-0123456789"


def clip(server: Server) -> bytes:
    response = server.get("/api/v1/cameras/front/clip?seconds=2")
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.usefixtures("umask_022")
def test_a_second_server_on_the_same_state_is_refused_and_the_first_records_on(
    tmp_path: Path, h264_file: Path
) -> None:
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
    first = Server(tmp_path / "first", {"front": KEY}, state=tmp_path)
    second = Server(tmp_path / "second", {"front": KEY}, state=tmp_path)
    first.start()
    publisher = ffmpeg_publisher(h264_file, first.publish_url("front"), tmp_path / "ff.log")
    try:
        wait_for("3 segments", lambda: len(first.sidecar("front")) >= 3 or None, 20)
        assert clip(first)
        cached = sorted(first.buffer_dir.joinpath(".clips").glob(OWN_PREFIX + "*"))
        assert cached, "the clip is in the first server's cache"
        # Private whatever the umask: the server runs with umask 077 (ffmpeg's segments too).
        segments = first.segment_files("front")
        for path in (first.data_dir, first.buffer_dir, first.buffer_dir / "front", cached[0]):
            assert mode(path) in {0o700, 0o600}, path
        assert {mode(p) for p in segments} == {0o600}
        assert mode(first.data_dir / "doorbell.db") == 0o600

        # The segment ffmpeg is writing now: a second server's recovery would delete it.
        current = first.segment_files("front")[-1]
        second.start(wait_healthy=False)
        assert second.proc is not None
        try:
            status = second.proc.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the second server did not exit: {second.log_tail()}")
        assert status == EXIT_IN_USE, second.log_tail()
        assert first.proc is not None
        message = second.log_tail()
        assert f"{first.data_dir} is in use by process {first.proc.pid}" in message
        assert "Traceback" not in message

        # The first server noticed nothing: its cached clip, its segments, new ones.
        assert all(path.exists() for path in cached)
        assert all(path.exists() for path in segments)
        wait_for(
            "the segment being written at the refusal, then one more, indexed",
            lambda: any(row["file"] == current.name for row in first.sidecar("front")[:-1]) or None,
            15,
        )
        assert clip(first)
        assert first.health()["status"] == "ok"
        assert first.health()["instance"]["pid"] == first.proc.pid
    finally:
        stop(publisher)
        if second.proc is not None:
            stop(second.proc)
        first.stop()
