"""/healthz and /metrics of the in-process app."""

from __future__ import annotations

import pytest

from tests.api.conftest import InProcess

pytestmark = pytest.mark.anyio


async def test_healthz_reports_each_loop_and_camera(server: InProcess) -> None:
    response = await server.anonymous.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {loop["name"] for loop in body["loops"]} == {"segmenter:front", "push", "retention"}
    assert body["cameras"]["front"]["segmenter"] == "recording"
    assert server.buffer.ran.is_set()


async def test_metrics_sample_the_buffer_and_count_events(server: InProcess) -> None:
    response = await server.anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert 'doorbell_buffer_seconds{camera="front"} 60.000' in lines
    assert "# TYPE doorbell_segmenter_restarts_total counter" in lines
    assert 'doorbell_loop_up{loop="push"} 1' in lines
    assert "doorbell_clip_assemblies_total 0" in lines
    assert 'doorbell_push_queue{state="queued"} 0' in lines
    assert "# TYPE doorbell_events_total counter" in lines
