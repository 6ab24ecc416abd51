"""Settings of one camera's segmenter, built by the server's wiring from its own settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SegmenterConfig:
    """Everything one camera's segmenter needs; validated upstream by the server settings."""

    camera: str
    source_url: str
    directory: Path
    buffer_ms: int = 900_000
    max_bytes: int = 512 * 1024 * 1024
    stall_timeout_s: float = 10.0
    ffmpeg: str = "ffmpeg"
    backoff_min_s: float = 0.5
    # An offline camera is retried at most this often: a publish wakes the segmenter at once
    # (notify_publish), so this only bounds how late a missed notification is noticed, and
    # each failed pull costs ~80 ms of CPU.
    backoff_max_s: float = 30.0
    # After a publish notification, retry this often for `fast_retry_window_s`: the relay
    # accepts the publisher a moment after it asks the API, so the first pull may be early.
    fast_retry_s: float = 0.2
    fast_retry_window_s: float = 5.0
