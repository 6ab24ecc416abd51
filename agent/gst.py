"""The one place that loads GStreamer through PyGObject (`gi.require_version`, `Gst.init`).

Every other module imports `Gst` and `GLib` from here (mopidy's `internal/gi.py` pattern), so
the version is pinned before the first `gi.repository` import and mypy sees the modules as
pygobject-stubs types them. Loaded on import: the agent's commands that need no pipeline
(`status`, `ring`) never import this module.
"""

from __future__ import annotations

from agent.errors import GStreamerUnavailable

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio, GLib, Gst
except (ImportError, ValueError) as exc:
    raise GStreamerUnavailable(
        "GStreamer for Python is missing: run scripts/bootstrap.sh "
        "(PyGObject, gir1.2-gstreamer-1.0, python3-gst-1.0)"
    ) from exc

Gst.init(None)

__all__ = ["GLib", "Gio", "Gst"]
