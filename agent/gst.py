"""The one place that loads GStreamer through PyGObject (`gi.require_version`, `Gst.init`)."""

from __future__ import annotations

from typing import Any

_initialised = False


def gst() -> tuple[Any, Any]:
    """(Gst, GLib), initialised once. Raises ImportError with a hint if PyGObject is missing."""
    global _initialised
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import GLib, Gst
    except (ImportError, ValueError) as exc:
        raise ImportError(
            "GStreamer for Python is missing: run scripts/bootstrap.sh "
            "(PyGObject, gir1.2-gstreamer-1.0, python3-gst-1.0)"
        ) from exc
    if not _initialised:
        Gst.init(None)
        _initialised = True
    return Gst, GLib
