"""A segment's H.264 samples, indexed once: their MP4 table and where their bytes lie in the .ts."""

from __future__ import annotations

import base64
import binascii
import logging
import mmap
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from segmenter.formats.arrays import I32, I64, U8, Bools
from segmenter.formats.mpegts import HEAD_BYTES, SYNC, TS_PACKET, program_streams
from segmenter.formats.tsindex import PAYLOAD, Indexed, index_ts

logger = logging.getLogger(__name__)

# The blob: magic, packets, samples, runs, patches, literals; then the arrays, compressed.
_HEADER = struct.Struct("<4sIIIII")
MAGIC = b"DBS1"
STREAM_H264 = 0x1B


class SampleTable(NamedTuple):
    """Per sample: decode time and composition offset (90 kHz), MP4 size, keyframe."""

    dts: I64
    cts: I32
    sizes: I32
    keys: Bools


class Recipe(NamedTuple):
    """How to cut a segment's MP4 sample bytes out of its .ts file.

    They are `runs` (offset, length) of a work buffer that holds the TS packets without their
    4-byte headers (`packets` x 184 bytes) followed by the `literals` (the lengths of NAL
    units that had a 3-byte start code); the lengths of the others are `patch_values` written
    over their 4-byte start codes (4 bytes from each `patch_pos`).
    """

    packets: int
    run_src: list[int]
    run_len: list[int]
    patch_pos: I32
    patch_values: U8
    literals: U8

    @property
    def work_bytes(self) -> int:
        return self.packets * PAYLOAD + self.literals.size

    def gather(self, path: Path, work: U8) -> list[memoryview]:
        """The segment's sample bytes, as views of `work` (`work_bytes` or more, reused by
        the next call: write them out first)."""
        packets, payload = self.packets, self.packets * PAYLOAD
        with (
            path.open("rb") as f,
            mmap.mmap(f.fileno(), packets * TS_PACKET, prot=mmap.PROT_READ) as m,
        ):
            ts = np.frombuffer(m, np.uint8).reshape(packets, TS_PACKET)
            work[:payload].reshape(packets, PAYLOAD)[...] = ts[:, 4:]
            del ts  # release the mmap's buffer before it closes
        work[payload : payload + self.literals.size] = self.literals
        work[(self.patch_pos[:, None] + np.arange(4)).ravel()] = self.patch_values
        view = memoryview(work)  # type: ignore[arg-type]
        return [view[s : s + n] for s, n in zip(self.run_src, self.run_len, strict=True)]


@dataclass(frozen=True, slots=True)
class SegmentSamples:
    """One segment's sample table and recipe, packed: a header of counts, then the arrays
    compressed (~0.8 KB for a second at 1.5 Mbit/s, 1.8 KB uncompressed)."""

    blob: bytes

    def _counts(self) -> tuple[int, int, int, int, int]:
        magic, packets, samples, runs, patches, literals = _HEADER.unpack_from(self.blob)
        if magic != MAGIC:
            raise ValueError("not a sample index")
        return packets, samples, runs, patches, literals

    @property
    def packets(self) -> int:
        return self._counts()[0]

    def unpack(self) -> tuple[SampleTable, Recipe]:
        """The table and the recipe (ValueError or zlib.error if the blob is damaged)."""
        packets, n, runs, patches, literals = self._counts()
        body = zlib.decompress(self.blob[_HEADER.size :])
        if len(body) != 17 * n + 8 * runs + 8 * patches + 4 * literals:
            raise ValueError("sample index of the wrong length")
        at = 17 * n + 8 * runs
        table = SampleTable(
            np.frombuffer(body, "<i8", n, 0),
            np.frombuffer(body, "<i4", n, 8 * n),
            np.frombuffer(body, "<i4", n, 12 * n),
            np.frombuffer(body, np.bool_, n, 16 * n),
        )
        recipe = Recipe(
            packets,
            np.frombuffer(body, "<i4", runs, 17 * n).tolist(),
            np.frombuffer(body, "<i4", runs, 17 * n + 4 * runs).tolist(),
            np.frombuffer(body, "<i4", patches, at),
            np.frombuffer(body, np.uint8, 4 * patches, at + 4 * patches),
            np.frombuffer(body, np.uint8, 4 * literals, at + 8 * patches),
        )
        return table, recipe

    def encode(self) -> str:
        """For the sidecar: base64 text."""
        return base64.b64encode(self.blob).decode("ascii")

    @classmethod
    def decode(cls, text: object, file_size: int) -> SegmentSamples | None:
        """From the sidecar; None unless it is an index of a file of `file_size` bytes (the
        arrays are checked when a clip unpacks them)."""
        if not isinstance(text, str):
            return None
        try:
            samples = cls(base64.b64decode(text.encode("ascii"), validate=True))
            packets = samples.packets
        except (binascii.Error, UnicodeEncodeError, ValueError, struct.error):
            return None
        return samples if packets * TS_PACKET == file_size else None


def _pack(packets: int, t: Indexed) -> SegmentSamples:
    counts = (len(t.dts), len(t.run_src), len(t.patch_pos), len(t.literals) // 4)
    body = [
        t.dts.astype("<i8").tobytes(),
        t.cts.astype("<i4").tobytes(),
        t.sizes.astype("<i4").tobytes(),
        t.keys.astype(np.uint8).tobytes(),
        t.run_src.astype("<i4").tobytes(),
        t.run_len.astype("<i4").tobytes(),
        t.patch_pos.astype("<i4").tobytes(),
        t.patch_values,
        t.literals,
    ]
    # Level 1 halves it (run offsets and timestamps are regular) for ~0.07 ms.
    packed = zlib.compress(b"".join(body), 1)
    return SegmentSamples(_HEADER.pack(MAGIC, packets, *counts) + packed)


def index_segment(data: bytes) -> SegmentSamples | None:
    """Index a segment written by our segmenter (one H.264 stream in MPEG-TS, one access unit
    per PES packet). None for anything else (audio, another codec, damage): clips of it take
    the remuxing path."""
    packets = len(data) // TS_PACKET
    if packets == 0 or len(data) != packets * TS_PACKET or data[0] != SYNC:
        return None
    streams = program_streams(data[:HEAD_BYTES])
    if streams is None or len(streams) != 1 or streams[0][0] != STREAM_H264:
        return None
    indexed = index_ts(data, streams[0][1])
    return None if indexed is None else _pack(packets, indexed)


def index_file(path: Path) -> SegmentSamples | None:
    """`index_segment` of a file; None if it is gone or cannot be indexed."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return index_segment(data)
    except (ValueError, IndexError):
        # Malformed input the checks missed must cost only the fast path, never ingest.
        logger.warning("cannot index %s", path, exc_info=True)
        return None
