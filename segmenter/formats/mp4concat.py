"""Faststart MP4 clips by concatenating the samples of indexed segments, never remuxing.

The moov comes from the segments' sample tables; then each segment's sample bytes are cut
out of its .ts file by its recipe. Nothing is demuxed or muxed packet by packet.
Blocking (file and CPU work): callers run `concat_mp4` in a worker thread.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from segmenter.errors import ClipError
from segmenter.formats.arrays import I64
from segmenter.formats.faststart import Layout
from segmenter.formats.h264 import ParameterSets, find_parameter_sets
from segmenter.formats.mp4write import TIMESCALE, Track, head
from segmenter.formats.samples import Recipe, SampleTable
from segmenter.model import Segment
from segmenter.timing import DEFAULT_FRAME_S, MAX_DTS_JUMP_S, PTS_WRAP

logger = logging.getLogger(__name__)

IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024)
MAX_JUMP = int(MAX_DTS_JUMP_S * TIMESCALE)
FRAME = int(DEFAULT_FRAME_S * TIMESCALE)


def timeline(dts: I64) -> I64:
    """Each sample's duration, for decode times that restart from 0. As in the remux path, a
    step back or a jump of more than MAX_DTS_JUMP_S is a publisher restart: the new session
    continues one frame (the last good step) later. A 33-bit wrap is not a restart."""
    step = np.diff(dts)
    wrapped = step + PTS_WRAP
    step = np.where((step < 0) & (wrapped > 0) & (wrapped <= MAX_JUMP), wrapped, step)
    good = (step > 0) & (step <= MAX_JUMP)
    last_good = np.maximum.accumulate(np.where(good, np.arange(step.size), -1))
    known = np.append(FRAME, step)[last_good + 1]  # the last good step so far, or one frame
    durations = np.where(good, step, np.append(FRAME, known)[:-1])
    # The last sample lasts as long as the last good step.
    final = known[-1] if known.size else FRAME
    return np.append(durations, final).astype(np.int64)


def _unpacked(segments: Sequence[Segment]) -> list[tuple[SampleTable, Recipe]] | None:
    """Each segment's sample index as made at ingest; None if one has none. (Indexing a
    segment now would cost more than remuxing it: ~1 ms against ~0.6 ms.)"""
    found = []
    for segment in segments:
        if segment.samples is None:
            return None
        try:
            found.append(segment.samples.unpack())
        except (ValueError, zlib.error):
            logger.warning("damaged sample index of %s", segment.path)
            return None
    return found


def _write_at(fd: int, parts: Sequence[bytes | memoryview], size: int, offset: int) -> None:
    """Write `parts` (`size` bytes in all) at `offset`."""
    done = os.pwritev(fd, parts, offset) if len(parts) <= IOV_MAX else 0
    if done == size:
        return
    rest = memoryview(b"".join(parts))[done:]  # a short write: finish the slow way
    offset += done
    while rest:
        written = os.pwrite(fd, rest, offset)
        rest, offset = rest[written:], offset + written


class _Job(NamedTuple):
    """One segment's sample bytes to write: how, from where, to where in the clip."""

    recipe: Recipe
    path: Path
    offset: int
    size: int


def _write_segments(fd: int, jobs: Sequence[_Job]) -> None:
    if not jobs:
        return
    work = np.empty(max(job.recipe.work_bytes for job in jobs), np.uint8)
    for job in jobs:
        _write_at(fd, job.recipe.gather(job.path, work), job.size, job.offset)


def _write_in_two_halves(fd: int, jobs: Sequence[_Job]) -> None:
    """This thread writes the first half of the segments and one helper thread the second:
    the copies and writes release the GIL, so a long clip uses both cores."""
    half = len(jobs) // 2
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-writer") as helper:
        second = helper.submit(_write_segments, fd, jobs[half:])
        _write_segments(fd, jobs[:half])
        second.result()


def _parameter_sets(keyframe: memoryview) -> ParameterSets | None:
    try:
        return find_parameter_sets(keyframe)
    except ClipError:
        return None  # an SPS we cannot read: the remux path copies it as it is


def _track(tables: Sequence[SampleTable], skip: int, params: ParameterSets) -> Track:
    """The clip's samples: all of the tables but the first `skip`, one chunk per segment."""

    def joined(columns: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
        return np.concatenate([columns[0][skip:], *columns[1:]])

    chunk_samples = np.array([t.dts.size for t in tables], np.int64)
    chunk_samples[0] -= skip
    return Track(
        durations=timeline(joined([t.dts for t in tables])),
        cts=joined([t.cts for t in tables]).astype(np.int64),
        sizes=joined([t.sizes for t in tables]).astype(np.int64),
        keys=joined([t.keys for t in tables]),
        chunk_samples=chunk_samples,
        params=params,
    )


def concat_mp4(segments: Sequence[Segment], out: Path) -> Layout | None:
    """Write the faststart MP4 of `segments` to `out` and return its layout; None if a
    segment has no sample index (not one H.264 stream as our segmenter writes it, or recovered
    from an older sidecar) or no keyframe begins the clip: the caller remuxes instead."""
    unpacked = _unpacked(segments)
    if unpacked is None:
        return None
    # Start at the first keyframe (every segment should start with one).
    begin = next((i for i, (table, _) in enumerate(unpacked) if table.keys.any()), None)
    if begin is None:
        return None
    paths = [s.path for s in segments[begin:]]
    tables = [table for table, _ in unpacked[begin:]]
    recipes = [recipe for _, recipe in unpacked[begin:]]
    skip = int(np.argmax(tables[0].keys))
    skipped = int(tables[0].sizes[:skip].sum())
    try:
        first = b"".join(recipes[0].gather(paths[0], np.empty(recipes[0].work_bytes, np.uint8)))
        params = _parameter_sets(memoryview(first)[skipped : skipped + int(tables[0].sizes[skip])])
        if params is None:
            return None
        track = _track(tables, skip, params)
        header = head(track)
        body = memoryview(first)[skipped:]
        sizes = [int(table.sizes.sum()) for table in tables[1:]]
        offsets = (len(header) + len(body) + np.cumsum([0, *sizes])[:-1]).tolist()
        jobs = list(map(_Job, recipes[1:], paths[1:], offsets, sizes))
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_at(fd, [header, body], len(header) + len(body), 0)
            _write_in_two_halves(fd, jobs)
        finally:
            os.close(fd)
        written = out.stat().st_size
    except (OSError, ValueError, IndexError) as exc:
        raise ClipError(f"writing the clip failed: {exc}") from exc
    size = len(header) + int(track.sizes.sum())
    if written != size:
        raise ClipError(f"clip is {written} bytes, expected {size}")
    return Layout.whole(size)
