"""The agent's stop: its safety net for a task that ignores its cancellation."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from agent.app import AgentApp
from agent.config import AgentSettings

pytestmark = pytest.mark.anyio


def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings.model_validate(
        {
            "camera": "front",
            "relay_url": "rtmp://127.0.0.1:1/live",
            "stream_key": "front-stream-key-0123456789",
            "api_url": "http://127.0.0.1:1",
            "device_token": "device-token-0123456789",
            "source": "test",
            "outbox_path": str(tmp_path / "outbox.sqlite3"),
            "status_path": str(tmp_path / "status.json"),
        }
    )


async def test_a_task_that_outlives_its_cancel_is_logged_as_a_bug_with_its_stack(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()

    async def parks_after_its_cancel() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # the defect this net is for: a lost cancellation

    async def ends_when_cancelled() -> None:
        await asyncio.Event().wait()

    app = AgentApp(settings(tmp_path), teardown_s=0.05)
    stuck = asyncio.create_task(parks_after_its_cancel(), name="pipeline")
    fine = asyncio.create_task(ends_when_cancelled(), name="motion")
    await asyncio.sleep(0)  # one turn: both are waiting
    try:
        with caplog.at_level(logging.ERROR, logger="agent.app"):
            async with asyncio.timeout(5):
                await app._shutdown({stuck: "pipeline", fine: "motion"}, fatal=True)
    finally:
        release.set()
        await asyncio.wait([stuck, fine], timeout=5)
        app.runtime.close()
    assert fine.cancelled()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "BUG: task pipeline did not end within 0.05 s" in errors[0]
    assert "parks_after_its_cancel" in errors[0]  # where it is stuck
