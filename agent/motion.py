"""Motion detection over small gray frames: background model, thresholds, zones and episodes."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from agent.config import MotionSettings

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # x, y, w, h as fractions of the frame
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]

# The global brightness model is fitted on a grid of about this many pixels, whatever the size.
SAMPLE_PIXELS = 1024
# A fitted gain outside this range is not an exposure change: fall back to an offset only.
GAIN_RANGE = (0.5, 2.0)
# Below this background variance (gray levels squared) on the sample a gain cannot be seen.
MIN_FIT_VARIANCE = 16.0


@dataclass(frozen=True, slots=True)
class MotionEvent:
    """`motion_start` carries the frame's score (changed fraction of the zone) and box;
    `motion_end` the highest score of the episode and no box."""

    kind: Literal["motion_start", "motion_end"]
    at_ms: int
    score: float
    box: Box | None = None


def zone_mask(zones: Sequence[Sequence[tuple[float, float]]], width: int, height: int) -> BoolArray:
    """Pixels whose centre lies inside any of the polygons (even-odd rule); all if no zones.

    Vectorised over pixels, one pass per polygon edge: an edge that spans a row of pixel
    centres toggles every centre left of where it crosses that row.
    """
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if not zones:
        return np.ones((height, width), dtype=np.bool_)
    xs = (np.arange(width, dtype=np.float64) + 0.5) / width
    ys = ((np.arange(height, dtype=np.float64) + 0.5) / height)[:, np.newaxis]
    mask = np.zeros((height, width), dtype=np.bool_)
    for polygon in zones:
        inside = np.zeros((height, width), dtype=np.bool_)
        n = len(polygon)
        for i in range(n):
            (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
            if y1 == y2:
                continue  # a horizontal edge never crosses a row of centres
            spans = (y1 > ys) != (y2 > ys)
            x_cross = x1 + (ys - y1) * ((x2 - x1) / (y2 - y1))
            inside ^= spans & (xs < x_cross)
        mask |= inside
    return mask


def _fit_brightness(frame_s: FloatArray, bg_s: FloatArray, band: float) -> tuple[float, float]:
    """Gain and offset that map the background onto the frame (exposure, lights), robustly.

    The median difference is the offset if nothing else changed; pixels far from it (a
    person, under half the frame) are left out of a least-squares fit of frame = g*bg + o.
    """
    diff = frame_s - bg_s
    middle = diff.size // 2
    offset = float(np.partition(diff, middle)[middle])  # a median, without np.median's overhead
    inliers = np.abs(diff - offset) < band
    if np.count_nonzero(inliers) < 16:
        return 1.0, offset
    b, f = bg_s[inliers], frame_s[inliers]
    b_mean, f_mean = float(b.mean()), float(f.mean())
    b_c = b - b_mean
    variance = float(np.dot(b_c, b_c)) / b.size
    if variance < MIN_FIT_VARIANCE:
        return 1.0, offset  # a flat scene: a gain is not observable, only an offset
    gain = float(np.dot(b_c, f - f_mean)) / b.size / variance
    if not GAIN_RANGE[0] <= gain <= GAIN_RANGE[1]:
        return 1.0, offset
    return gain, f_mean - gain * b_mean


def _check_frame(frame: object) -> None:
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"a frame is a 2-D uint8 numpy array (GRAY8), got {type(frame).__name__}")
    if frame.ndim != 2 or frame.dtype != np.uint8 or frame.size == 0:
        raise ValueError(
            "a frame is a non-empty 2-D uint8 array (GRAY8), "
            f"got {frame.dtype} with shape {frame.shape}"
        )


def _box(changed: BoolArray) -> Box:
    height, width = changed.shape
    rows = np.flatnonzero(changed.any(axis=1))
    cols = np.flatnonzero(changed.any(axis=0))
    x0, x1, y0, y1 = int(cols[0]), int(cols[-1]), int(rows[0]), int(rows[-1])
    return (
        round(x0 / width, 4),
        round(y0 / height, 4),
        round((x1 - x0 + 1) / width, 4),
        round((y1 - y0 + 1) / height, 4),
    )


class MotionDetector:
    """Feed it every frame in order; it answers with an event when an episode starts or ends.

    State: a float32 running-average background, the streaks of motion and quiet frames,
    whether an episode is open and when the last one ended. No clock of its own: time is
    the capture time passed with each frame. Not thread-safe (one frame source).
    """

    def __init__(self, settings: MotionSettings) -> None:
        self.settings = settings
        self._background: FloatArray | None = None
        self._model = np.empty((0, 0), np.float32)  # gain * background + offset
        self._diff = np.empty((0, 0), np.float32)
        self._changed = np.empty((0, 0), np.bool_)
        self._scratch = np.empty((0, 0), np.bool_)
        self._neighbours = np.empty((0, 0), np.uint8)
        self._mask: BoolArray | None = None  # None: the whole frame
        self._zone_pixels = 0
        self._stride = 1
        self._motion_streak = 0
        self._quiet_streak = 0
        self._active = False
        self._peak = 0.0
        self._last_end_ms: int | None = None

    @property
    def active(self) -> bool:
        """Whether a motion episode is open (started and not yet ended)."""
        return self._active

    def update(self, frame: npt.NDArray[np.uint8], at_ms: int) -> MotionEvent | None:
        """Take one GRAY8 frame captured at `at_ms` (UTC epoch ms); the event it causes, if any.

        The first frame, and the first of a new size, seeds the background; a size change
        ends an open episode (the old background says nothing about the new frames). A
        global change (over `max_area`) counts as a quiet frame.
        """
        _check_frame(frame)
        if self._background is None or self._background.shape != frame.shape:
            ended = self._end(at_ms) if self._active else None
            self._reset(frame)
            return ended
        changed = self._changed_pixels(frame)
        score = 0.0
        if changed is not None and self._zone_pixels:
            score = int(np.count_nonzero(changed)) / self._zone_pixels
        moving = changed is not None and score >= self.settings.min_area
        if moving:
            self._motion_streak += 1
            self._quiet_streak = 0
        else:
            self._motion_streak = 0
            self._quiet_streak += 1
        if self._active:
            if moving:
                self._peak = max(self._peak, score)
            elif self._quiet_streak >= self.settings.end_frames:
                return self._end(at_ms)
            return None
        if changed is None or self._motion_streak < self.settings.start_frames:
            return None
        if self._cooling_down(at_ms):
            return None  # the streak keeps counting: motion still there after it starts at once
        self._active = True
        self._peak = score
        return MotionEvent("motion_start", at_ms, round(score, 4), _box(changed))

    def _cooling_down(self, at_ms: int) -> bool:
        if self._last_end_ms is None:
            return False
        # A clock stepped backwards must not stretch the cooldown: only 0 <= elapsed counts.
        return 0 <= at_ms - self._last_end_ms < self.settings.cooldown_ms

    def _end(self, at_ms: int) -> MotionEvent:
        self._active = False
        self._last_end_ms = at_ms
        return MotionEvent("motion_end", at_ms, round(self._peak, 4))

    def _reset(self, frame: npt.NDArray[np.uint8]) -> None:
        shape = frame.shape
        self._background = frame.astype(np.float32)
        self._model = np.empty(shape, np.float32)
        self._diff = np.empty(shape, np.float32)
        self._changed = np.empty(shape, np.bool_)
        self._scratch = np.empty(shape, np.bool_)
        self._neighbours = np.empty(shape, np.uint8)
        self._stride = max(1, math.isqrt(frame.size // SAMPLE_PIXELS))
        height, width = shape
        zones = self.settings.zones
        self._mask = zone_mask(zones, width, height) if zones else None
        self._zone_pixels = frame.size if self._mask is None else int(np.count_nonzero(self._mask))
        if self._zone_pixels == 0:
            logger.warning("motion zones cover no pixel of a %dx%d frame: no motion", width, height)
        self._motion_streak = 0
        self._quiet_streak = 0

    def _changed_pixels(self, frame: npt.NDArray[np.uint8]) -> BoolArray | None:
        """Pixels that changed inside the zone, with the background updated; None for a
        global change (the background is then re-seeded from this frame)."""
        bg, model, diff = self._background, self._model, self._diff
        assert bg is not None
        s, threshold = self._stride, self.settings.pixel_threshold
        gain, offset = _fit_brightness(
            frame[::s, ::s].astype(np.float32).ravel(), bg[::s, ::s].ravel(), 2.0 * threshold
        )
        # The background takes the global change at once and blends in the rest at alpha.
        np.multiply(bg, gain, out=model)
        model += offset
        np.subtract(frame, model, out=diff)
        np.multiply(diff, self.settings.alpha, out=bg)
        bg += model
        np.abs(diff, out=diff)
        changed = self._changed
        np.greater(diff, threshold, out=changed)
        # Global or not is judged on every changed pixel: a new scene's changes are speckled.
        if np.count_nonzero(changed) > self.settings.max_area * changed.size:
            np.copyto(bg, frame)
            return None
        self._despeckle(changed)
        if self._mask is not None:
            changed &= self._mask
        return changed

    def _despeckle(self, changed: BoolArray) -> None:
        """Keep a changed pixel only if at least 2 of its 4 neighbours changed too: sensor
        salt and single-pixel flicker go, the body of anything real stays (corners too)."""
        c = changed.view(np.uint8)
        n = self._neighbours
        n.fill(0)
        n[:, 1:] += c[:, :-1]
        n[:, :-1] += c[:, 1:]
        n[1:, :] += c[:-1, :]
        n[:-1, :] += c[1:, :]
        np.greater_equal(n, 2, out=self._scratch)
        changed &= self._scratch
