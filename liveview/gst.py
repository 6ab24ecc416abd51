"""The one place the worker loads GStreamer, its WebRTC and SDP libraries (PyGObject)."""

from __future__ import annotations

from liveview.errors import GStreamerUnavailable

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstWebRTC", "1.0")
    gi.require_version("GstSdp", "1.0")
    from gi.repository import GLib, GObject, Gst, GstSdp, GstWebRTC
except (ImportError, ValueError) as exc:
    raise GStreamerUnavailable(
        f"GStreamer's WebRTC for Python is missing ({exc}): run scripts/bootstrap.sh "
        "(apt: gir1.2-gst-plugins-bad-1.0 gstreamer1.0-plugins-bad gstreamer1.0-nice; "
        "PyPI: pygobject)"
    ) from exc

Gst.init(None)
_MISSING = [
    name
    for name in ("webrtcbin", "nicesrc", "rtph264pay", "rtmp2src", "flvdemux", "h264parse")
    if Gst.ElementFactory.find(name) is None
]
if _MISSING:
    raise GStreamerUnavailable(
        f"GStreamer elements missing: {', '.join(_MISSING)} (apt: gstreamer1.0-plugins-bad "
        "gstreamer1.0-plugins-good gstreamer1.0-nice)"
    )

__all__ = ["GLib", "GObject", "Gst", "GstSdp", "GstWebRTC"]
