"""The agent's GStreamer pipeline as gst-launch syntax: a pure function of the settings.

Every profile has the same shape, and the runtime relies on its element names:

    source ! raw caps ! tee name=t
      t. ! queue ! <H.264 encoder, GOP = fps> ! h264parse ! identity name=encoded
         ! flvmux ! rtmp2sink name=sink
      t. ! queue leaky ! videorate ! videoscale ! videoconvert ! GRAY8 small caps
         ! appsink name=motion

- `libcamera` (the Pi camera module): the Pi's hardware encoder `v4l2h264enc`, bitrate and
  I-frame period through `extra-controls`, level 4 caps (the encoder refuses to negotiate
  without a level).
- `v4l2` (a USB camera): raw frames converted to I420 and encoded with `x264enc` like `test`.
  Cameras that emit H.264 themselves would skip the encoder; not supported, kept simple.
- `test`: `videotestsrc` (a moving ball by default) encoded with `x264enc`. `format=I420`
  matters: without it x264enc picks High 4:4:4, which phones cannot decode.

The 1-s GOP (key-int-max / h264_i_frame_period = fps) is the server's contract: its 1-s
segments each start with an IDR. The motion branch's queue leaks (keeps the newest 2 frames)
so a slow motion consumer never slows the stream.
"""

from __future__ import annotations

from agent.config import AgentSettings

ENCODED = "encoded"  # identity after the parser: the watchdog's "encoded buffer" probe point
SINK = "sink"
MOTION = "motion"  # the appsink


def quote(value: str) -> str:
    """A gst-launch double-quoted string (survives '?', '&', spaces)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _raw_caps(s: AgentSettings, fmt: str) -> str:
    return f"video/x-raw,width={s.width},height={s.height},framerate={s.fps}/1,format={fmt}"


def _x264(s: AgentSettings) -> str:
    return (
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={s.fps} "
        f"bitrate={s.bitrate_kbps}"
    )


def _source(s: AgentSettings) -> str:
    """Source, raw caps and encoder of the profile."""
    if s.source == "libcamera":
        controls = f"controls,video_bitrate={s.bitrate_kbps * 1000},h264_i_frame_period={s.fps}"
        return (
            f"libcamerasrc ! {_raw_caps(s, 'NV12')} ! tee name=t  t. ! queue "
            f"! v4l2h264enc extra-controls={quote(controls)} ! video/x-h264,level=(string)4"
        )
    if s.source == "v4l2":
        return (
            f"v4l2src device={quote(s.device)} "
            f"! video/x-raw,width={s.width},height={s.height},framerate={s.fps}/1 "
            f"! videoconvert ! video/x-raw,format=I420 ! tee name=t  t. ! queue ! {_x264(s)}"
        )
    return (
        f"videotestsrc is-live=true pattern={s.test_pattern} ! {_raw_caps(s, 'I420')} "
        f"! tee name=t  t. ! queue ! {_x264(s)}"
    )


def describe(s: AgentSettings) -> str:
    """The whole pipeline for `s` in gst-launch syntax (see the module docstring)."""
    motion_caps = (
        f"video/x-raw,format=GRAY8,width={s.motion_width},height={s.motion_height},"
        f"framerate={s.motion_fps}/1"
    )
    return (
        f"{_source(s)} ! h264parse config-interval=-1 ! identity name={ENCODED} "
        f"! flvmux streamable=true ! rtmp2sink name={SINK} location={quote(s.publish_url)}  "
        "t. ! queue leaky=downstream max-size-buffers=2 max-size-bytes=0 max-size-time=0 "
        f"! videorate ! videoscale ! videoconvert ! {motion_caps} "
        f"! appsink name={MOTION} emit-signals=true max-buffers=2 drop=true sync=false"
    )
