"""WHEP signalling in the in-process tier: who may offer, what is refused before the media
worker is asked (and how), and what the app learns from /api/v1/webrtc. The media itself is
in tests/stack/test_webrtc.py and the browser tests (tests/web/test_webrtc.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from api.config import Settings, WebRtcSettings
from tests.api.conftest import InProcess, serve
from tests.webrtc import CHROMIUM_OFFER, without_h264_mode_1

pytestmark = pytest.mark.anyio

WHEP = "/api/v1/cameras/front/whep"
SDP = {"Content-Type": "application/sdp"}


@pytest.fixture
def webrtc_on(tier_settings: Settings) -> Callable[..., Settings]:
    """The tier's settings with the media worker running (the tier's default turns it off)
    and `webrtc` settings on top."""

    def make(**webrtc: object) -> Settings:
        return tier_settings.model_copy(
            update={"webrtc": WebRtcSettings.model_validate({"enabled": True, **webrtc})}
        )

    return make


async def test_an_offer_needs_credentials(server: InProcess) -> None:
    response = await server.anonymous.post(WHEP, content=CHROMIUM_OFFER, headers=SDP)
    assert response.status_code == 401


async def test_a_signed_in_browser_needs_the_csrf_header(server: InProcess) -> None:
    async with server.browser() as browser:
        session = await server.sign_in(browser)
        refused = await browser.post(WHEP, content=CHROMIUM_OFFER, headers=SDP)
        assert refused.status_code == 403
        assert "X-CSRF-Token" in refused.json()["detail"]
        headers = {**SDP, "X-CSRF-Token": session["csrf_token"]}
        # Past the CSRF check: the tier runs no media worker.
        answered = await browser.post(WHEP, content=CHROMIUM_OFFER, headers=headers)
        assert answered.status_code == 503


async def test_the_body_must_be_sdp(server: InProcess) -> None:
    response = await server.client.post(WHEP, json={"sdp": CHROMIUM_OFFER})
    assert response.status_code == 415
    assert "application/sdp" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"hello", "must start with 'v=0'"),
        (b"v=0\r\n\xff\xfe", "not UTF-8"),
        (without_h264_mode_1(CHROMIUM_OFFER).encode(), "no H.264 with packetization-mode=1"),
    ],
    ids=["not SDP", "not UTF-8", "no H.264"],
)
async def test_a_malformed_offer_is_a_400_saying_why(
    webrtc_on: Callable[..., Settings], body: bytes, problem: str
) -> None:
    async with serve(webrtc_on()) as server:
        server.buffer.last_segment_age_ms = 0  # online: the offer itself is what is wrong
        response = await server.client.post(WHEP, content=body, headers=SDP)
    assert response.status_code == 400
    assert problem in response.json()["detail"]


async def test_an_unknown_camera_is_a_404(server: InProcess) -> None:
    response = await server.client.post(
        "/api/v1/cameras/garage/whep", content=CHROMIUM_OFFER, headers=SDP
    )
    assert response.status_code == 404
    assert response.json()["allowed"] == ["front"]


async def test_webrtc_turned_off_is_a_503_the_app_falls_back_on(server: InProcess) -> None:
    server.buffer.last_segment_age_ms = 0
    response = await server.client.post(WHEP, content=CHROMIUM_OFFER, headers=SDP)
    assert response.status_code == 503
    assert response.json()["reason"] == "webrtc_unavailable"
    assert "webrtc.enabled" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    config = await server.client.get("/api/v1/webrtc")
    assert config.json() == {"enabled": False, "ice_servers": []}


async def test_an_offline_camera_is_a_503_camera_offline(
    webrtc_on: Callable[..., Settings],
) -> None:
    async with serve(webrtc_on()) as server:
        response = await server.client.post(WHEP, content=CHROMIUM_OFFER, headers=SDP)
    assert response.status_code == 503
    assert response.json()["reason"] == "camera_offline"
    assert "offline" in response.json()["detail"]


async def test_the_app_learns_the_ice_servers(webrtc_on: Callable[..., Settings]) -> None:
    servers = [
        {"urls": ["stun:stun.example.net:3478"]},
        {"urls": ["turn:turn.example.net:3478?transport=tcp"], "username": "u", "credential": "c"},
    ]
    async with serve(webrtc_on(ice_servers=servers)) as server:
        await _eventually_enabled(server)
        config = (await server.client.get("/api/v1/webrtc")).json()
    assert config == {
        "enabled": True,
        "ice_servers": [
            {"urls": ["stun:stun.example.net:3478"], "username": None, "credential": None},
            {
                "urls": ["turn:turn.example.net:3478?transport=tcp"],
                "username": "u",
                "credential": "c",
            },
        ],
    }


async def _eventually_enabled(server: InProcess) -> None:
    """Until the media worker has started (GStreamer loads in about 0.3 s), bounded."""
    async with asyncio.timeout(20):
        while not (await server.client.get("/api/v1/webrtc")).json()["enabled"]:  # noqa: ASYNC110 (no event to wait on)
            await asyncio.sleep(0.05)  # polling interval of a bounded wait


async def test_ending_or_patching_an_unknown_session_is_a_404(server: InProcess) -> None:
    gone = await server.client.delete(f"{WHEP}/no-such-session")
    assert gone.status_code == 404
    patch = await server.client.patch(
        f"{WHEP}/no-such-session",
        content="a=candidate:1 1 udp 1 192.0.2.1 9 typ host\r\n",
        headers={"Content-Type": "application/trickle-ice-sdpfrag"},
    )
    assert patch.status_code == 404
    wrong_type = await server.client.patch(f"{WHEP}/no-such-session", content="x", headers=SDP)
    assert wrong_type.status_code == 415


def test_turn_servers_are_linked_with_their_credentials() -> None:
    from api.config import IceServer
    from api.http.routes.webrtc import _link

    stun = IceServer(urls=["stun:stun.example.net"])
    turn = IceServer.model_validate(
        {"urls": ["turns:turn.example.net:5349"], "username": "u", "credential": "p"}
    )
    assert _link(stun, "stun:stun.example.net") == '<stun:stun.example.net>; rel="ice-server"'
    assert _link(turn, "turns:turn.example.net:5349") == (
        '<turns:turn.example.net:5349>; rel="ice-server"; username="u"; credential="p"; '
        'credential-type="password"'
    )
