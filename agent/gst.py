"""The one place that loads GStreamer through PyGObject (`gi.require_version`, `Gst.init`)."""

from __future__ import annotations

import functools
from typing import Any

from agent.errors import GStreamerUnavailable


@functools.cache
def gst() -> tuple[Any, Any]:
    """(Gst, GLib), initialised once. Raises GStreamerUnavailable (with a hint) if PyGObject
    or GStreamer is missing."""
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import GLib, Gst
    except (ImportError, ValueError) as exc:
        raise GStreamerUnavailable(
            "GStreamer for Python is missing: run scripts/bootstrap.sh "
            "(PyGObject, gir1.2-gstreamer-1.0, python3-gst-1.0)"
        ) from exc
    Gst.init(None)
    return Gst, GLib
