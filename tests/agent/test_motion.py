"""Motion detector on synthetic frames: moving objects, noise, lighting, zones, episodes."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from agent.config import MotionSettings
from agent.motion import MotionDetector, MotionEvent, zone_mask

H, W = 120, 160
FRAME_MS = 200  # 5 fps
SQUARE = 16
# A moving object with the defaults but short episodes, so the sequences stay short.
SETTINGS = MotionSettings(start_frames=2, end_frames=5, cooldown_ms=4_000)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240605)


@pytest.fixture
def scene(rng: np.random.Generator) -> np.ndarray:
    """A static textured view (a porch: every pixel its own gray, 60..180), float64."""
    return rng.uniform(60, 180, (H, W))


def shot(rng: np.random.Generator, image: np.ndarray, sigma: float = 3.5) -> np.ndarray:
    """What the camera delivers: the image plus Gaussian sensor noise, as GRAY8."""
    return np.clip(image + rng.normal(0.0, sigma, image.shape), 0, 255).astype(np.uint8)


def with_square(
    image: np.ndarray, x: int, y: int, value: float = 240.0, size: int = SQUARE
) -> np.ndarray:
    out = image.copy()
    out[y : y + size, x : x + size] = value
    return out


def run(
    detector: MotionDetector, frames: Iterable[np.ndarray], start_ms: int = 0
) -> list[MotionEvent]:
    """Feed frames FRAME_MS apart from `start_ms`; the events, in order."""
    events = []
    for i, frame in enumerate(frames):
        event = detector.update(frame, start_ms + i * FRAME_MS)
        if event is not None:
            events.append(event)
    return events


def still(rng: np.random.Generator, scene: np.ndarray, n: int) -> list[np.ndarray]:
    return [shot(rng, scene) for _ in range(n)]


def crossing(rng: np.random.Generator, scene: np.ndarray, y: int = 50) -> list[np.ndarray]:
    """A bright square crossing the view left to right, 4 px a frame (33 frames)."""
    return [shot(rng, with_square(scene, x, y)) for x in range(10, W - 20, 4)]


def test_moving_square_gives_one_start_then_one_end(
    rng: np.random.Generator, scene: np.ndarray
) -> None:
    quiet, moving = still(rng, scene, 10), crossing(rng, scene)
    events = run(MotionDetector(SETTINGS), [*quiet, *moving, *still(rng, scene, 20)])

    assert [e.kind for e in events] == ["motion_start", "motion_end"]
    start, end = events
    # Motion from the first moving frame on: the second one (start_frames=2) opens the episode.
    first_moving = len(quiet)
    assert start.at_ms == (first_moving + 1) * FRAME_MS
    x, y = 10 + 4, 50  # where the square is in that frame
    assert start.box is not None
    bx, by, bw, bh = start.box
    rounding = 0.5e-4  # the box is rounded to 4 decimals
    assert bx <= x / W + rounding
    assert bx + bw >= (x + SQUARE) / W - rounding
    assert by <= y / H + rounding
    assert by + bh >= (y + SQUARE) / H - rounding
    assert bw <= 2 * SQUARE / W  # around the square, not the whole frame
    assert bh <= 2 * SQUARE / H
    assert start.score == pytest.approx(SQUARE * SQUARE / (W * H), abs=0.005)
    # It leaves on the first still frame; end_frames quiet frames later the episode ends.
    left = first_moving + len(moving)
    assert end.at_ms == (left + SETTINGS.end_frames - 1) * FRAME_MS
    assert end.box is None
    assert end.score >= start.score


def test_sensor_noise_alone_is_not_motion(rng: np.random.Generator, scene: np.ndarray) -> None:
    detector = MotionDetector(MotionSettings())
    frames = [shot(rng, scene, sigma=4.0) for _ in range(300)]
    assert run(detector, frames) == []
    assert not detector.active


def test_a_dim_scene_with_strong_noise_is_not_motion(rng: np.random.Generator) -> None:
    night = np.full((H, W), 20.0)
    frames = [shot(rng, night, sigma=8.0) for _ in range(200)]
    assert run(MotionDetector(MotionSettings()), frames) == []


@pytest.mark.parametrize("jump", [40.0, -40.0])
def test_a_global_brightness_jump_is_not_motion(
    rng: np.random.Generator, scene: np.ndarray, jump: float
) -> None:
    frames = [*still(rng, scene, 10), *still(rng, scene + jump, 40)]
    assert run(MotionDetector(MotionSettings()), frames) == []


def test_a_slow_brightness_ramp_is_not_motion(rng: np.random.Generator, scene: np.ndarray) -> None:
    # Dusk or dawn, sped up: one gray level per frame over 100 frames.
    frames = [shot(rng, scene - 50 + i) for i in range(100)]
    assert run(MotionDetector(MotionSettings()), frames) == []


def test_an_exposure_gain_change_is_not_motion(rng: np.random.Generator, scene: np.ndarray) -> None:
    # Auto-exposure scales gray levels: a +60 % gain moves dark and bright pixels differently.
    frames = [*still(rng, scene, 10), *still(rng, scene * 1.6, 30), *still(rng, scene, 30)]
    assert run(MotionDetector(MotionSettings()), frames) == []


def test_a_whole_frame_change_is_suppressed_and_the_background_reseeded(
    rng: np.random.Generator, scene: np.ndarray
) -> None:
    # A scene cut (lights on with new shadows, the camera knocked): nothing in common.
    other = rng.uniform(0, 120, (H, W))
    detector = MotionDetector(SETTINGS)
    assert run(detector, [*still(rng, scene, 5), *still(rng, other, 20)]) == []
    # The new view is the background at once: a square on it is motion again.
    events = run(detector, crossing(rng, other), start_ms=100_000)
    assert [e.kind for e in events] == ["motion_start"]


def test_motion_is_still_seen_while_the_exposure_changes(
    rng: np.random.Generator, scene: np.ndarray
) -> None:
    frames = still(rng, scene, 5)
    for i in range(20):
        image = scene * (1 + 0.005 * i) + 4.0 * i  # auto-exposure brightening, frame by frame
        if i >= 8:  # a person in dark clothes walks in while it still adapts
            x = 5 + 4 * (i - 8)
            image[30:100, x : x + 40] = 20.0
        frames.append(shot(rng, image))
    events = run(MotionDetector(SETTINGS), frames)
    assert [e.kind for e in events] == ["motion_start"]
    box = events[0].box
    assert box is not None
    assert box[1] == pytest.approx(30 / H, abs=0.01)  # the person's rows, not the whole frame
    assert box[3] == pytest.approx(70 / H, abs=0.01)


def test_a_single_frame_flash_is_not_motion(rng: np.random.Generator, scene: np.ndarray) -> None:
    frames = [*still(rng, scene, 5), shot(rng, with_square(scene, 60, 50)), *still(rng, scene, 20)]
    assert run(MotionDetector(SETTINGS), frames) == []


def test_start_frames_sets_how_many_consecutive_frames_are_needed(
    rng: np.random.Generator, scene: np.ndarray
) -> None:
    settings = SETTINGS.model_copy(update={"start_frames": 4})
    moving = crossing(rng, scene)
    blink = [*still(rng, scene, 5), *moving[:3], *still(rng, scene, 20)]  # 3 frames: too short
    assert run(MotionDetector(settings), blink) == []
    events = run(MotionDetector(settings), [*still(rng, scene, 5), *moving])
    assert [(e.kind, e.at_ms) for e in events] == [("motion_start", (5 + 3) * FRAME_MS)]


def test_zone_mask_ignores_motion_outside_and_sees_it_inside(
    rng: np.random.Generator, scene: np.ndarray
) -> None:
    right_half = (((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)),)
    settings = SETTINGS.model_copy(update={"zones": right_half})
    # The square goes up and down in the left half only.
    left = [shot(rng, with_square(scene, 20, y)) for y in range(0, H - SQUARE, 4)]
    assert run(MotionDetector(settings), [*still(rng, scene, 5), *left]) == []
    # The same movement in the right half.
    right = [shot(rng, with_square(scene, 110, y)) for y in range(0, H - SQUARE, 4)]
    events = run(MotionDetector(settings), [*still(rng, scene, 5), *right])
    assert [e.kind for e in events] == ["motion_start"]
    box = events[0].box
    assert box is not None
    assert box[0] >= 0.5  # the box stays inside the zone
    # The score is a fraction of the zone, not of the frame.
    assert events[0].score == pytest.approx(SQUARE * SQUARE / (W * H / 2), abs=0.01)


def test_cooldown_holds_back_a_new_start_until_it_has_passed(
    rng: np.random.Generator, scene: np.ndarray
) -> None:
    detector = MotionDetector(SETTINGS)  # cooldown 4 s = 20 frames
    first = run(detector, [*still(rng, scene, 5), *crossing(rng, scene), *still(rng, scene, 5)])
    assert [e.kind for e in first] == ["motion_start", "motion_end"]
    end_ms = first[1].at_ms

    # Movement 1 s after the end: within the cooldown, no start (for as long as it lasts).
    short = crossing(rng, scene)[:8]
    assert run(detector, short, start_ms=end_ms + 1_000) == []
    # Still moving when the cooldown expires: it starts at once, on the first frame past it.
    events = run(detector, crossing(rng, scene), start_ms=end_ms + 3_000)
    assert [(e.kind, e.at_ms) for e in events] == [("motion_start", end_ms + 4_000)]


def test_cooldown_passed_gives_a_new_start(rng: np.random.Generator, scene: np.ndarray) -> None:
    detector = MotionDetector(SETTINGS)
    first = run(detector, [*still(rng, scene, 5), *crossing(rng, scene), *still(rng, scene, 5)])
    end_ms = first[-1].at_ms
    assert run(detector, still(rng, scene, 30), start_ms=end_ms + FRAME_MS) == []
    events = run(detector, crossing(rng, scene, y=80), start_ms=end_ms + 10_000)
    assert [e.kind for e in events] == ["motion_start"]


def test_first_frame_seeds_and_never_reports(rng: np.random.Generator, scene: np.ndarray) -> None:
    detector = MotionDetector(MotionSettings(start_frames=1))
    assert detector.update(shot(rng, with_square(scene, 60, 50)), 0) is None
    assert detector.update(shot(rng, with_square(scene, 60, 50)), FRAME_MS) is None


def test_a_new_frame_size_resets_the_background(
    rng: np.random.Generator, scene: np.ndarray
) -> None:
    detector = MotionDetector(SETTINGS)
    assert run(detector, still(rng, scene, 5)) == []
    big = np.kron(scene, np.ones((2, 2)))  # the same view at 320x240
    assert run(detector, still(rng, big, 10), start_ms=10_000) == []
    # ... and the new background works: an object moving at the new size is motion.
    moving = [shot(rng, with_square(big, x, 100, size=2 * SQUARE)) for x in range(20, 200, 8)]
    events = run(detector, moving, start_ms=20_000)
    assert [e.kind for e in events] == ["motion_start"]
    # A size change in the middle of an episode ends it, and seeds again.
    active_before = detector.active
    ended = detector.update(shot(rng, scene), 30_000)
    assert active_before
    assert ended is not None
    assert ended.kind == "motion_end"
    assert not detector.active
    assert run(detector, still(rng, scene, 10), start_ms=40_000) == []


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((H, W), dtype=np.float32),
        np.zeros((H, W), dtype=np.uint16),
        np.zeros((H, W, 3), dtype=np.uint8),
        np.zeros(W, dtype=np.uint8),
        np.zeros((0, W), dtype=np.uint8),
    ],
    ids=["float32", "uint16", "rgb", "1-d", "empty"],
)
def test_frames_that_are_not_gray8_are_refused(frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        MotionDetector(MotionSettings()).update(frame, 0)


def test_a_frame_that_is_not_an_array_is_refused() -> None:
    with pytest.raises(TypeError, match="numpy array"):
        MotionDetector(MotionSettings()).update([[0, 1], [2, 3]], 0)  # type: ignore[arg-type]


def test_zone_mask_of_a_rectangle() -> None:
    square = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
    mask = zone_mask([square], 8, 8)
    # Pixel centres at (i + 0.5) / 8: columns and rows 2..5 lie inside 0.25..0.75.
    expected = np.zeros((8, 8), dtype=bool)
    expected[2:6, 2:6] = True
    np.testing.assert_array_equal(mask, expected)


def test_zone_mask_of_a_triangle() -> None:
    # x + y < 1 on an 8x6 grid, centres ((i + .5) / 8, (j + .5) / 6): times 48, inside when
    # 6i + 8j < 41 (never equal: no centre on the edge). Row j has the columns i < (41 - 8j) / 6.
    mask = zone_mask([[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]], 8, 6)
    assert mask.shape == (6, 8)
    expected = np.zeros((6, 8), dtype=bool)
    for row, columns in enumerate([7, 6, 5, 3, 2, 1]):
        expected[row, :columns] = True
    np.testing.assert_array_equal(mask, expected)


def test_zone_mask_of_a_concave_polygon_and_a_union() -> None:
    # An L over a 10x10 grid: the left column band and the bottom row band.
    ell = [(0.0, 0.0), (0.3, 0.0), (0.3, 0.7), (1.0, 0.7), (1.0, 1.0), (0.0, 1.0)]
    mask = zone_mask([ell], 10, 10)
    assert int(mask.sum()) == 3 * 10 + 7 * 3
    assert not mask[0, 5]  # in the notch
    # Overlapping polygons are a union (not even-odd across polygons).
    overlapping = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
    both = zone_mask([ell, overlapping], 10, 10)
    assert int(both.sum()) == 50 + 5 * 3  # the left half and the L's bottom right 5x3
    assert both[0, 2]
    assert both[9, 9]
    assert not both[0, 9]


def test_zone_mask_without_zones_is_the_whole_frame() -> None:
    assert zone_mask([], 4, 3).all()
    assert zone_mask([], 4, 3).shape == (3, 4)


def test_zones_scale_with_the_resolution() -> None:
    triangle = [(0.1, 0.2), (0.9, 0.3), (0.4, 0.95)]
    small = zone_mask([triangle], 160, 120).mean()
    big = zone_mask([triangle], 320, 240).mean()
    area = abs((0.9 - 0.1) * (0.95 - 0.2) - (0.4 - 0.1) * (0.3 - 0.2)) / 2
    assert small == pytest.approx(area, abs=0.01)
    assert big == pytest.approx(area, abs=0.005)
