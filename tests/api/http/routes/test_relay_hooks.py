"""nginx-rtmp's callbacks: the stream-key check and who is publishing, in process."""

from __future__ import annotations

import pytest

from common.clock import wall_ms
from tests.api.conftest import RELAY_SECRET, STREAM_KEY, InProcess

pytestmark = pytest.mark.anyio


def form(**fields: str) -> dict[str, str]:
    return {"app": "live", "name": "front", "addr": "192.0.2.7", "clientid": "7", **fields}


async def hook(
    server: InProcess, name: str, data: dict[str, str], secret: str = RELAY_SECRET
) -> int:
    url = f"/internal/relay/{name}?secret={secret}"
    return (await server.anonymous.post(url, data=data)).status_code


async def test_the_right_key_publishes_and_the_camera_goes_online(server: InProcess) -> None:
    before = wall_ms()
    assert await hook(server, "on_publish", form(key=STREAM_KEY)) == 204
    assert server.buffer.publish_notices == 1  # the segmenter pulls at once
    cameras = (await server.client.get("/api/v1/cameras")).json()
    assert cameras[0]["online"] is True
    assert before <= cameras[0]["since_ms"] <= wall_ms()
    # A second publisher's end (another client id) does not end the first.
    assert await hook(server, "on_publish_done", form(clientid="8")) == 204
    assert (await server.client.get("/api/v1/cameras")).json()[0]["online"] is True
    left = wall_ms()
    assert await hook(server, "on_publish_done", form()) == 204
    camera = (await server.client.get("/api/v1/cameras")).json()[0]
    assert camera["online"] is False
    assert left <= camera["since_ms"] <= wall_ms()  # offline since the publisher left


@pytest.mark.parametrize(
    ("data", "secret"),
    [
        (form(key="wrong-key"), RELAY_SECRET),
        (form(key=STREAM_KEY, name="back"), RELAY_SECRET),
        (form(key=STREAM_KEY, app="other"), RELAY_SECRET),
        (form(key=STREAM_KEY), "wrong-secret"),
    ],
)
async def test_refusals_are_403_and_change_nothing(
    server: InProcess, data: dict[str, str], secret: str
) -> None:
    assert await hook(server, "on_publish", data, secret) == 403
    assert server.buffer.publish_notices == 0
    assert (await server.client.get("/api/v1/cameras")).json()[0]["online"] is False


async def test_a_second_publisher_of_a_live_camera_is_refused_and_changes_nothing(
    server: InProcess,
) -> None:
    assert await hook(server, "on_publish", form(key=STREAM_KEY)) == 204
    server.buffer.last_segment_age_ms = 400  # its video arrives: it really publishes
    live = (await server.client.get("/api/v1/cameras")).json()[0]
    # The right key from elsewhere, while the camera is live: refused before nginx-rtmp
    # would refuse it itself, and its publish_done (were it sent) ends nothing.
    second = form(key=STREAM_KEY, addr="198.51.100.9", clientid="8")
    assert await hook(server, "on_publish", second) == 403
    assert await hook(server, "on_publish_done", second) == 204
    server.buffer.last_segment_age_ms = None  # only the relay's word is left
    after = (await server.client.get("/api/v1/cameras")).json()[0]
    assert after["online"] is True
    assert after["since_ms"] == live["since_ms"]
    assert server.buffer.publish_notices == 1


async def test_a_stale_publisher_record_does_not_block_a_new_publisher(
    server: InProcess,
) -> None:
    # A publisher the relay never reported gone (the relay was restarted) and whose video
    # stopped: the next publisher is accepted and replaces it.
    assert await hook(server, "on_publish", form(key=STREAM_KEY)) == 204
    assert await hook(server, "on_publish", form(key=STREAM_KEY, clientid="1")) == 204
    assert server.buffer.publish_notices == 2
    assert await hook(server, "on_publish_done", form(clientid="1")) == 204
    assert (await server.client.get("/api/v1/cameras")).json()[0]["online"] is False
