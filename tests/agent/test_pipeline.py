"""The pipeline description per profile: elements, properties, the 1-s GOP, and that
GStreamer parses it (the test profile here always; the Pi profiles where their elements
exist, structurally otherwise)."""

from __future__ import annotations

import re

from agent.config import AgentSettings
from agent.gst import Gst
from agent.pipeline import describe, quote

BASE = {
    "camera": "front",
    "relay_url": "rtmp://127.0.0.1:1935/live",
    "stream_key": "k-0123456789",
    "api_url": "http://127.0.0.1:8000",
    "device_token": "t",
    "width": 640,
    "height": 480,
    "fps": 20,
    "bitrate_kbps": 1200,
}
TAIL = (
    "! h264parse config-interval=-1 ! identity name=encoded ! flvmux streamable=true "
    '! rtmp2sink name=sink location="rtmp://127.0.0.1:1935/live/front?key=k-0123456789"'
)
MOTION = (
    "t. ! queue leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0 "
    "! videorate ! videoscale ! videoconvert "
    "! video/x-raw,format=GRAY8,width=160,height=120,framerate=5/1 "
    "! appsink name=motion emit-signals=true max-buffers=2 drop=true sync=false"
)


def settings(**changes: object) -> AgentSettings:
    return AgentSettings(**{**BASE, **changes})  # type: ignore[arg-type]


def elements(description: str) -> list[str]:
    """Element factory names in order (caps and branch references left out)."""
    names = []
    for part in re.split(r"\s!\s|\s{2}", description):
        word = part.strip().split(" ")[0]
        if word and "/" not in word and not word.endswith("."):
            names.append(word)
    return names


def parses(description: str) -> None:
    pipeline = Gst.parse_launch(description)
    assert isinstance(pipeline, Gst.Pipeline)
    try:
        for name in ("encoded", "sink", "motion"):
            assert pipeline.get_by_name(name) is not None, name
    finally:
        pipeline.set_state(Gst.State.NULL)


def test_test_profile_is_a_moving_ball_encoded_by_x264_with_a_1s_gop() -> None:
    d = describe(settings(source="test"))
    assert d.startswith(
        "videotestsrc is-live=true pattern=ball "
        "! video/x-raw,width=640,height=480,framerate=20/1,format=I420 ! tee name=t  t. ! queue "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=20 bitrate=1200 "
    )
    assert TAIL in d
    assert d.endswith(MOTION)
    parses(d)


def test_still_scene_is_a_setting_of_the_test_profile() -> None:
    assert "pattern=smpte75 " in describe(settings(source="test", test_pattern="smpte75"))


def test_libcamera_profile_uses_the_hardware_encoder_with_a_1s_gop() -> None:
    d = describe(settings(source="libcamera", fps=25))
    assert d.startswith(
        "libcamerasrc ! video/x-raw,width=640,height=480,framerate=25/1,format=NV12 "
        '! tee name=t  t. ! queue ! v4l2h264enc extra-controls="controls,'
        'video_bitrate=1200000,h264_i_frame_period=25" ! video/x-h264,level=(string)4 '
    )
    assert TAIL in d
    assert d.endswith(MOTION)
    assert "x264enc" not in elements(d)
    assert elements(d) == [
        "libcamerasrc", "tee", "queue", "v4l2h264enc", "h264parse", "identity", "flvmux",
        "rtmp2sink", "queue", "videorate", "videoscale", "videoconvert", "appsink",
    ]  # fmt: skip
    if all(Gst.ElementFactory.find(e) for e in ("libcamerasrc", "v4l2h264enc")):
        parses(d)


def test_v4l2_profile_converts_and_encodes_with_x264() -> None:
    d = describe(settings(source="v4l2", device="/dev/video2"))
    assert d.startswith(
        'v4l2src device="/dev/video2" ! video/x-raw,width=640,height=480,framerate=20/1 '
        "! videoconvert ! video/x-raw,format=I420 ! tee name=t  t. ! queue "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=20 bitrate=1200 "
    )
    assert TAIL in d
    assert d.endswith(MOTION)
    if Gst.ElementFactory.find("v4l2src"):
        parses(d)


def test_motion_branch_follows_the_settings() -> None:
    d = describe(settings(motion_width=320, motion_height=240, motion_fps=2))
    assert "video/x-raw,format=GRAY8,width=320,height=240,framerate=2/1 ! appsink" in d


def test_quote_escapes_for_gst_launch() -> None:
    assert quote('a"b\\c?d&e') == '"a\\"b\\\\c?d&e"'
    pipeline = Gst.parse_launch(f"fakesrc name={quote('x?y&z')} ! fakesink")
    assert isinstance(pipeline, Gst.Pipeline)
    try:
        assert pipeline.get_by_name("x?y&z") is not None
    finally:
        pipeline.set_state(Gst.State.NULL)
