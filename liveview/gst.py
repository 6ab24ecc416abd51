"""The one place the worker loads GStreamer, its WebRTC and SDP libraries (PyGObject)."""

from __future__ import annotations

from liveview.errors import LiveViewError


class GStreamerUnavailable(LiveViewError):
    reason = "unavailable"


try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstWebRTC", "1.0")
    gi.require_version("GstSdp", "1.0")
    from gi.repository import GLib, GObject, Gst, GstSdp, GstWebRTC
except (ImportError, ValueError) as exc:
    raise GStreamerUnavailable(
        "GStreamer's WebRTC for Python is missing: run scripts/bootstrap.sh "
        "(gir1.2-gst-plugins-bad-1.0, gstreamer1.0-plugins-bad, gstreamer1.0-nice)"
    ) from exc

Gst.init(None)

__all__ = ["GLib", "GObject", "Gst", "GstSdp", "GstWebRTC"]
