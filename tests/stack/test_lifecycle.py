"""Server lifecycle: a restart keeps the buffer; a dead loop is visible and fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.stack.harness import Server, ffmpeg_publisher, stop

pytestmark = pytest.mark.stack

KEY = "front-stream-key-0123456789"


def test_restarting_the_server_keeps_the_footage(tmp_path: Path, h264_file: Path) -> None:
    server = Server(tmp_path, {"front": KEY}, buffer_seconds=120)
    server.start()
    try:
        publisher = ffmpeg_publisher(h264_file, server.publish_url("front"), tmp_path / "ff.log")
        try:
            wait_for("5 segments", lambda: len(server.sidecar("front")) >= 5 or None, 15)
        finally:
            stop(publisher)
        wait_for("publisher gone", lambda: not server.camera("front")["online"], 10)
        before = server.camera("front")["buffer"]
        files_before = [p.name for p in server.segment_files("front")]
        # uvicorn shuts down gracefully, then re-raises SIGTERM (systemd counts that as clean).
        assert server.stop() in (0, -15)
        assert "Application shutdown complete" in server.log_tail(20)
        # A partial file, as if ffmpeg had been killed mid-segment: recovery drops it.
        (server.buffer_dir / "front" / "seq-000999999.ts").write_bytes(b"\x47" * 188)
        server.start()
        after = server.camera("front")["buffer"]
        assert after == before
        assert [p.name for p in server.segment_files("front")] == files_before
        assert server.health()["status"] == "ok"
    finally:
        server.stop()


def test_healthz_turns_unhealthy_when_a_loop_dies(tmp_path: Path) -> None:
    server = Server(
        tmp_path,
        {"front": KEY},
        relay=False,
        extra={"ffmpeg": "/nonexistent/ffmpeg", "exit_on_fatal": False},
    )
    server.start(wait_healthy=False)
    try:

        def unhealthy() -> dict[str, object] | None:
            try:
                body = server.health()
            except Exception:
                return None
            return body if body["status"] == "unhealthy" else None

        body = wait_for("healthz unhealthy", unhealthy, 60)
        anonymous = server.get("/healthz", token=None)
        assert (anonymous.status_code, anonymous.json()) == (503, {"status": "unhealthy"})
        [loop] = [lp for lp in body["loops"] if lp["name"] == "segmenter:front"]  # type: ignore[attr-defined]
        assert loop["state"] == "dead"
        assert "/nonexistent/ffmpeg" in loop["last_error"]
        metrics = server.get("/metrics").text
        assert 'doorbell_loop_up{loop="segmenter:front"} 0' in metrics
    finally:
        server.stop()


def test_a_fatal_loop_ends_the_process_for_the_service_manager(tmp_path: Path) -> None:
    server = Server(tmp_path, {"front": KEY}, relay=False, extra={"ffmpeg": "/nonexistent/ffmpeg"})
    server.start(wait_healthy=False)
    assert server.proc is not None
    try:
        status = server.proc.wait(60)
    finally:
        server.stop()
    assert status == 1
    assert "segmenter:front died" in server.log_tail(50)


def test_relay_that_cannot_bind_fails_start_up_clearly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Server(tmp_path, {"front": KEY}, rtmp_port=taken.getsockname()[1])
        server.start(wait_healthy=False)
        assert server.proc is not None
        try:
            status = server.proc.wait(30)
        finally:
            server.stop()
    assert status != 0
    assert "relay failed to start" in server.log_tail(80)
