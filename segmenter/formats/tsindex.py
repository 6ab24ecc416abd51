"""Finding H.264 access units in MPEG-TS with numpy, and their NAL units as ffmpeg splits them."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from segmenter.formats.arrays import I64, U8, Bools
from segmenter.formats.mpegts import SYNC, TS_PACKET
from segmenter.timing import PTS_WRAP

PAYLOAD = TS_PACKET - 4  # a packet without its 4-byte header
NAL_IDR = 5
NAL_AUD = 9
# A composition offset beyond this (90 kHz ticks, 10 s) is damage, not B-frames.
MAX_CTS = 900_000


class Indexed(NamedTuple):
    """What `index_ts` finds; positions are in the header-less work buffer (see samples.py)."""

    dts: I64
    cts: I64
    sizes: I64
    keys: Bools
    run_src: I64
    run_len: I64
    patch_pos: I64
    patch_values: bytes
    literals: bytes


def _timestamp(h: I64, at: int) -> I64:
    """A 33-bit PES timestamp from its 5 bytes at column `at` of each row of `h`."""
    return (
        ((h[:, at] >> 1) & 7) << 30
        | h[:, at + 1] << 22
        | (h[:, at + 2] >> 1) << 15
        | h[:, at + 3] << 7
        | h[:, at + 4] >> 1
    )


def _payloads(ts: U8, pid: int) -> tuple[I64, I64] | None:
    """Rows of `pid`'s packets that carry payload, and where the payload starts in each."""
    b1, b3 = ts[:, 1].astype(np.int64), ts[:, 3].astype(np.int64)
    if (ts[:, 0] != SYNC).any() or (b1 & 0x80).any():
        return None  # lost sync or a transport error
    mine = (((b1 & 0x1F) << 8) | ts[:, 2]) == pid
    start = 4 + np.where(b3 & 0x20, 1 + ts[:, 4].astype(np.int64), 0)
    rows = np.flatnonzero(mine & ((b3 & 0x10) != 0))
    if rows.size == 0 or (start[mine] > TS_PACKET).any() or (b3[rows] & 0xC0).any():
        return None  # no video, a bad adaptation field, or scrambled
    counter = b3[rows] & 0x0F
    if ((np.diff(counter) & 0x0F) != 1).any():
        return None  # a lost or repeated packet
    return rows.astype(np.int64), start[rows]


def _pes(ts: U8, rows: I64, start: I64) -> tuple[I64, I64, I64] | None:
    """Index (into rows) of each PES start, with its PTS and DTS; moves `start` past the PES
    headers."""
    first = np.flatnonzero(ts[rows, 1] & 0x40)
    if first.size == 0 or first[0] != 0:
        return None  # the segment must begin with a PES
    at = rows[first] * TS_PACKET + start[first]
    flat = ts.reshape(-1)
    h = flat[np.minimum(at[:, None] + np.arange(19), flat.size - 1)].astype(np.int64)
    flags, header = h[:, 7] >> 6, h[:, 8]
    ok = (h[:, 0] == 0) & (h[:, 1] == 0) & (h[:, 2] == 1) & ((h[:, 3] & 0xF0) == 0xE0)
    ok &= ((h[:, 6] & 0xF0) == 0x80) & (flags >= 2) & (header >= np.where(flags == 3, 10, 5))
    ok &= start[first] + 9 + header <= TS_PACKET
    if not ok.all():
        return None
    pts = _timestamp(h, 9)
    dts = np.where(flags == 3, _timestamp(h, 14), pts)
    start[first] += 9 + header
    return first, pts, dts


def start_codes(es: U8) -> I64:
    """Positions of every 00 00 01 in `es`."""
    zero = es[:-1] == 0
    pairs = np.flatnonzero(zero[:-1] & zero[1:])
    found: I64 = pairs[es[pairs + 2] == 1].astype(np.int64)
    return found


def _nal_units(es: U8, pes_start: I64, pes_end: I64) -> tuple[I64, I64, I64, I64] | None:
    """(PES, start, end, bytes before it) of each NAL unit, split as ffmpeg's
    `ff_nal_parse_units` does: a unit ends at the next start code, less one zero byte."""
    codes = start_codes(es)
    pes = np.searchsorted(pes_start, codes, "right") - 1
    inside = (pes >= 0) & (codes + 3 <= pes_end[np.maximum(pes, 0)])
    codes, pes = codes[inside], pes[inside]
    begin = codes + 3
    same = np.append(pes[1:] == pes[:-1], False)
    following = np.append(codes[1:], 0)
    trailing_zero = (following > begin) & (es[np.maximum(following - 1, 0)] == 0)
    end = np.where(same, following - trailing_zero, pes_end[pes])
    previous_end = np.where(
        np.append(True, pes[1:] != pes[:-1]), pes_start[pes], np.append(0, end[:-1])
    )
    # A start code that ends its PES packet only ends the unit before it.
    real = begin < pes_end[pes]
    pes, begin, end = pes[real], begin[real], end[real]
    if np.unique(pes).size != pes_start.size:
        return None  # an access unit without NAL units
    return pes, begin, end, begin - previous_end[real]


class _Regions(NamedTuple):
    """Stretches of the elementary stream that are contiguous in the work buffer."""

    logical: I64  # where each starts in the elementary stream
    work: I64  # where each starts in the work buffer

    def locate(self, at: I64) -> tuple[I64, I64]:
        region = np.searchsorted(self.logical, at, "right") - 1
        return region, self.work[region] + (at - self.logical[region])


def _runs(regions: _Regions, lo: I64, hi: I64, literal: Bools, base: int) -> tuple[I64, I64]:
    """(work offset, length) runs that copy [lo, hi) of the elementary stream for each output
    range in order, each `literal` range preceded by the next 4-byte literal at `base`."""
    filled = hi > lo
    cuts = regions.logical[1:]
    owner = np.searchsorted(lo, cuts, "right") - 1
    interior = (owner >= 0) & (cuts > lo[np.maximum(owner, 0)]) & (cuts < hi[np.maximum(owner, 0)])
    points = np.sort(np.concatenate((lo[filled], cuts[interior])))
    point_range = np.searchsorted(lo, points, "right") - 1
    pieces = np.bincount(point_range, minlength=lo.size)
    items = literal.astype(np.int64) + pieces
    item_start = np.concatenate(([0], np.cumsum(items)[:-1]))
    first_point = np.concatenate(([0], np.cumsum(pieces)[:-1]))
    src = np.empty(int(items.sum()), np.int64)
    length = np.empty_like(src)
    rank = np.arange(points.size) - first_point[point_range]
    slot = item_start[point_range] + literal[point_range] + rank
    last = np.append(point_range[1:] != point_range[:-1], True)
    _, src[slot] = regions.locate(points)
    length[slot] = np.where(last, hi[point_range], np.append(points[1:], 0)) - points
    lit_slot = item_start[literal]
    src[lit_slot] = base + 4 * np.arange(lit_slot.size)
    length[lit_slot] = 4
    return src, length


def index_ts(data: bytes, pid: int) -> Indexed | None:
    """The access units (one per PES packet) and their MP4 bytes, of stream `pid` in `data`."""
    packets = len(data) // TS_PACKET
    ts = np.frombuffer(data, np.uint8, packets * TS_PACKET).reshape(packets, TS_PACKET)
    found = _payloads(ts, pid)
    if found is None:
        return None
    rows, start = found
    pes = _pes(ts, rows, start)
    if pes is None:
        return None
    first, pts, dts = pes
    cts = (pts - dts) % PTS_WRAP
    if (cts > MAX_CTS).any():
        return None
    # The elementary stream, as contiguous regions of the header-less packets.
    lengths = TS_PACKET - start
    work = rows * PAYLOAD + start - 4
    logical = np.concatenate(([0], np.cumsum(lengths)))
    breaks = np.flatnonzero(np.append(True, work[1:] != work[:-1] + lengths[:-1]))
    regions = _Regions(logical[breaks], work[breaks])
    bodies = memoryview(ts[:, 4:].tobytes())
    region_len = np.append(regions.logical[1:], logical[-1]) - regions.logical
    es_bytes = b"".join(
        bodies[w : w + n] for w, n in zip(regions.work.tolist(), region_len.tolist(), strict=True)
    )
    es = np.frombuffer(es_bytes, np.uint8)
    pes_start = logical[first]
    nals = _nal_units(es, pes_start, np.append(pes_start[1:], logical[-1]))
    if nals is None:
        return None
    owner, begin, end, gap = nals
    size = end - begin
    kinds = np.where(size > 0, es[np.minimum(begin, es.size - 1)] & 0x1F, 0)
    sizes = np.bincount(owner, weights=4 + size, minlength=first.size).astype(np.int64)
    keys = np.bincount(owner, weights=kinds == NAL_IDR, minlength=first.size) > 0
    # ffmpeg's MPEG-TS muxer starts every PES packet with an access unit delimiter; one
    # anywhere else would be a second frame in the packet.
    aud = kinds == NAL_AUD
    if int(aud.sum()) != first.size or not aud[np.append(True, owner[1:] != owner[:-1])].all():
        return None
    # A NAL's length goes over its 4-byte start code when that lies in one region; else it
    # is a literal inserted before the unit (3-byte start codes, rare straddles).
    head_region, head_work = regions.locate(np.maximum(begin - 4, 0))
    tail_region, _ = regions.locate(begin - 1)
    patch = (gap >= 4) & (head_region == tail_region)
    lo = np.where(patch, begin - 4, begin)
    # A unit whose length is patched in place continues the previous unit's run.
    joined = np.append(False, (lo[1:] == end[:-1]) & patch[1:])
    run_src, run_len = _runs(
        regions, lo[~joined], end[np.append(~joined[1:], True)], ~patch[~joined], packets * PAYLOAD
    )
    if int(run_len.sum()) != int(sizes.sum()):
        return None
    be = size.astype(">u4").view(np.uint8).reshape(-1, 4)
    return Indexed(
        dts=dts,
        cts=cts,
        sizes=sizes,
        keys=keys,
        run_src=run_src,
        run_len=run_len,
        patch_pos=head_work[patch],
        patch_values=be[patch].tobytes(),
        literals=be[~patch].tobytes(),
    )
