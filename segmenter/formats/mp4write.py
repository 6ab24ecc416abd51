"""The ftyp and moov of a one-track H.264 MP4, built from its sample table with numpy."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from segmenter.formats.arrays import I64, Bools
from segmenter.formats.h264 import ParameterSets, avcc_record
from segmenter.timing import TS_HZ

TIMESCALE = TS_HZ  # MPEG-TS ticks, kept as the media timescale
MOVIE_TIMESCALE = 1000
U32_MAX = 2**32 - 1
HEAD_BOUND = 1 << 26  # ftyp + moov + mdat header stay far below this (64 MiB)
MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


@dataclass(frozen=True, slots=True)
class Track:
    """Samples in decode order: durations and composition offsets in 90 kHz ticks, sizes in
    bytes, keyframe flags, and how many samples each chunk holds (chunks are contiguous)."""

    durations: I64
    cts: I64
    sizes: I64
    keys: Bools
    chunk_samples: I64
    params: ParameterSets

    @property
    def media_duration(self) -> int:
        return int(self.durations.sum())


def box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    if len(body) + 8 > U32_MAX:
        return struct.pack(">I4sQ", 1, kind, len(body) + 16) + body
    return struct.pack(">I4s", len(body) + 8, kind) + body


def full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def _be32(values: I64) -> bytes:
    return values.astype(">u4").tobytes()


def _run_lengths(values: I64) -> tuple[I64, I64]:
    """(count, value) of each run of equal values."""
    starts = np.flatnonzero(np.append(True, values[1:] != values[:-1]))
    counts = np.diff(np.append(starts, values.size))
    return counts.astype(np.int64), values[starts].astype(np.int64)


def _pairs_box(kind: bytes, first: I64, second: I64) -> bytes:
    table = np.column_stack((first, second))
    return full_box(kind, 0, 0, struct.pack(">I", first.size), _be32(table))


def _movie_ticks(media_ticks: int) -> int:
    return -(-media_ticks * MOVIE_TIMESCALE // TIMESCALE)  # rounded up, as ffmpeg does


def _sample_entry(track: Track) -> bytes:
    ps = track.params
    avc1 = box(
        b"avc1",
        bytes(6),
        struct.pack(">HHH", 1, 0, 0),
        bytes(12),
        struct.pack(">HHIIIH", ps.width, ps.height, 0x480000, 0x480000, 0, 1),
        bytes(32),
        struct.pack(">Hh", 0x18, -1),
        box(b"avcC", avcc_record(ps)),
    )
    return full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1)


def _sample_table(track: Track, chunk_offsets: I64, wide: bool) -> bytes:
    parts = [_sample_entry(track), _pairs_box(b"stts", *_run_lengths(track.durations))]
    if not track.keys.all():
        sync = np.flatnonzero(track.keys) + 1
        parts.append(full_box(b"stss", 0, 0, struct.pack(">I", sync.size), _be32(sync)))
    if track.cts.any():
        parts.append(_pairs_box(b"ctts", *_run_lengths(track.cts)))
    counts, per_chunk = _run_lengths(track.chunk_samples)
    first_chunk = np.concatenate(([1], 1 + np.cumsum(counts)[:-1]))
    stsc = np.column_stack((first_chunk, per_chunk, np.ones_like(per_chunk)))
    parts.append(full_box(b"stsc", 0, 0, struct.pack(">I", counts.size), _be32(stsc)))
    parts.append(
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, track.sizes.size), _be32(track.sizes))
    )
    count = struct.pack(">I", chunk_offsets.size)
    if wide:
        parts.append(full_box(b"co64", 0, 0, count, chunk_offsets.astype(">u8").tobytes()))
    else:
        parts.append(full_box(b"stco", 0, 0, count, _be32(chunk_offsets)))
    return box(b"stbl", *parts)


def moov(track: Track, chunk_offsets: I64, wide: bool) -> bytes:
    """The moov box; `chunk_offsets` are file offsets of each chunk's first byte, written as
    64-bit (co64) if `wide`."""
    media = track.media_duration
    # A first frame shown after its decode time (B-frames) is delayed by an empty edit and the
    # media edit starts at its composition time, as ffmpeg writes it.
    first_cts = int(track.cts[0]) if track.cts.size else 0
    delay = _movie_ticks(first_cts)
    shown = _movie_ticks(media)
    total = delay + shown
    edits = [(delay, -1)] if delay else []
    edits.append((shown, first_cts))
    elst = full_box(
        b"elst",
        0,
        0,
        struct.pack(">I", len(edits)),
        b"".join(struct.pack(">IiI", d, t, 0x10000) for d, t in edits),
    )
    ps = track.params
    mvhd = full_box(
        b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, total),
        struct.pack(">IH", 0x10000, 0x100), bytes(10), MATRIX, bytes(24), struct.pack(">I", 2),
    )  # fmt: skip
    size = struct.pack(">II", ps.width << 16, ps.height << 16)
    tkhd = full_box(
        b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, total), bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0), MATRIX, size,
    )  # fmt: skip
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, TIMESCALE, media, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = full_box(b"vmhd", 0, 1, bytes(8))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", vmhd, dinf, _sample_table(track, chunk_offsets, wide))
    trak = box(b"trak", tkhd, box(b"edts", elst), box(b"mdia", mdhd, hdlr, minf))
    return box(b"moov", mvhd, trak)


def ftyp() -> bytes:
    return box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2avc1mp41")


def mdat_header(payload: int) -> bytes:
    if payload + 8 > U32_MAX:
        return struct.pack(">I4sQ", 1, b"mdat", payload + 16)
    return struct.pack(">I4s", payload + 8, b"mdat")


def head(track: Track) -> bytes:
    """ftyp + moov + mdat header of the faststart file: its samples follow, chunk by chunk."""
    chunk_starts = np.concatenate(([0], np.cumsum(track.chunk_samples)[:-1]))
    chunk_bytes = np.add.reduceat(track.sizes, chunk_starts)
    within = np.concatenate(([0], np.cumsum(chunk_bytes)[:-1])).astype(np.int64)
    payload = int(track.sizes.sum())
    wide = payload + HEAD_BOUND > U32_MAX
    prefix, mdat = ftyp(), mdat_header(payload)
    # The moov's size depends on how many offsets it holds and their width, not their values.
    before = len(prefix) + len(moov(track, within, wide)) + len(mdat)
    return prefix + moov(track, within + before, wide) + mdat
