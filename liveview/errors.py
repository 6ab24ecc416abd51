"""What the worker refuses, as exceptions its protocol turns into a reason and a message."""

from __future__ import annotations


class LiveViewError(Exception):
    """Base of what the worker reports to the API; `reason` is the protocol's word for it."""

    reason = "failed"


class BadOffer(LiveViewError):
    """The offer cannot be answered (malformed, or no codec we can send)."""

    reason = "bad_offer"


class CameraUnavailable(LiveViewError):
    """The camera's stream cannot be pulled from the relay (offline, or no video yet)."""

    reason = "camera_unavailable"


class NegotiationTimeout(LiveViewError):
    """webrtcbin did not answer in time."""

    reason = "timeout"


class GStreamerUnavailable(LiveViewError):
    """GStreamer, its WebRTC library or their Python bindings are not installed."""

    reason = "unavailable"
