"""/healthz and /metrics of the in-process app: nothing for strangers beyond "ok"."""

from __future__ import annotations

import os

import httpx
import pytest
from pydantic import SecretStr

from api.config import OpsSettings, Settings
from tests.api.conftest import InProcess, serve

pytestmark = pytest.mark.anyio

METRICS_TOKEN = "prometheus-scrape-token-0123456789"


async def test_healthz_tells_a_stranger_only_the_status(server: InProcess) -> None:
    response = await server.anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_details_need_an_operations_token(server: InProcess) -> None:
    response = await server.client.get("/healthz")  # the service token
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {loop["name"] for loop in body["loops"]} == {"segmenter:front", "push", "retention"}
    assert body["cameras"]["front"]["segmenter"] == "recording"
    assert body["instance"] == {"pid": os.getpid()}
    assert server.buffer.ran.is_set()


async def test_healthz_refuses_a_wrong_token(server: InProcess) -> None:
    response = await server.anonymous.get(
        "/healthz", headers={"Authorization": "Bearer not-a-token-of-this-server"}
    )
    assert response.status_code == 401
    assert "loops" not in response.text


async def test_metrics_are_not_public(server: InProcess) -> None:
    response = await server.anonymous.get("/metrics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "ops.metrics_token" in response.json()["detail"]
    assert "doorbell_events_total" not in response.text
    wrong = await server.anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_a_signed_in_user_does_not_read_metrics(server: InProcess) -> None:
    async with server.browser() as browser:
        await server.sign_in(browser)
        assert (await browser.get("/metrics")).status_code == 401
        assert (await browser.get("/healthz")).json() == {"status": "ok"}


async def test_metrics_sample_the_buffer_and_count_events(server: InProcess) -> None:
    response = await server.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert 'doorbell_buffer_seconds{camera="front"} 60.000' in lines
    assert "# TYPE doorbell_segmenter_restarts_total counter" in lines
    assert 'doorbell_loop_up{loop="push"} 1' in lines
    assert "doorbell_clip_assemblies_total 0" in lines
    assert 'doorbell_push_queue{state="queued"} 0' in lines
    assert "# TYPE doorbell_events_total counter" in lines


async def test_the_metrics_token_reads_metrics_and_health_only(tier_settings: Settings) -> None:
    settings = tier_settings.model_copy(
        update={"ops": OpsSettings(metrics_token=SecretStr(METRICS_TOKEN))}
    )
    async with serve(settings) as server:
        scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        metrics = await server.anonymous.get("/metrics", headers=scraper)
        assert metrics.status_code == 200
        assert "# TYPE doorbell_events_total counter" in metrics.text.splitlines()
        health = await server.anonymous.get("/healthz", headers=scraper)
        assert "cameras" in health.json()
        api: httpx.Response = await server.anonymous.get("/api/v1/cameras", headers=scraper)
        assert api.status_code == 401
