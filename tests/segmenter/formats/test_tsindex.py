"""Indexing MPEG-TS segments into MP4 samples: NAL units split exactly as ffmpeg's MP4 muxer
splits them, start codes cut across TS packets, and segments left to the remux path."""

from __future__ import annotations

import random
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from segmenter.formats.samples import SegmentSamples, index_segment
from segmenter.formats.tsindex import start_codes
from tests.conftest import require_binary
from tests.segmenter.formats.tsmux import (
    AUD,
    FRAME,
    Splitter,
    choppy,
    greedy,
    mux,
    real_access_units,
)


def ffmpeg_avcc(payload: bytes) -> bytes:
    """A port of ffmpeg's `nal_parse_units` (libavformat/nal.c), the reference."""
    end = len(payload)

    def find_start_code(at: int) -> int:
        found = payload.find(b"\x00\x00\x01", at, end)
        found = end if found < 0 else found
        if at < found < end and payload[found - 1] == 0:
            found -= 1
        return found

    out = bytearray()
    nal_start = find_start_code(0)
    while True:
        while nal_start < end:
            nal_start += 1
            if payload[nal_start - 1]:
                break
        if nal_start == end:
            break
        nal_end = find_start_code(nal_start)
        out += struct.pack(">I", nal_end - nal_start) + payload[nal_start:nal_end]
        nal_start = nal_end
    return bytes(out)


def noise(rng: random.Random, n: int) -> bytes:
    """Bytes with no zero in them, so they cannot form a start code."""
    return bytes(rng.randrange(1, 256) for _ in range(n))


def crafted_access_units(rng: random.Random) -> list[bytes]:
    """Every start-code pattern ffmpeg's split has to get right."""
    key = (
        AUD
        + b"\x00\x00\x00\x01\x67" + noise(rng, 20)  # SPS, 4-byte start code
        + b"\x00\x00\x00\x01\x68" + noise(rng, 4)  # PPS
        + b"\x00\x00\x01\x06" + noise(rng, 300)  # SEI, 3-byte start code
        + b"\x00\x00\x00\x00\x01\x65" + noise(rng, 900)  # extra zero: stays in the SEI
    )  # fmt: skip
    odd = (
        b"\x12\x34"  # junk before the first start code is dropped
        + b"\x00\x00\x01\x09\xf0"  # a 3-byte start code first
        + b"\x00\x00\x01\x41" + noise(rng, 500)
        + b"\x00\x00\x01\x00\x00\x01\x41" + noise(rng, 7)  # an empty unit
        + b"\x00\x00\x01\x41" + noise(rng, 183) + b"\x00\x00"  # trailing zeros kept
        + b"\x00\x00\x01"  # a start code that ends the packet starts no unit
    )  # fmt: skip
    plain = AUD + b"\x00\x00\x00\x01\x41" + noise(rng, 2000)
    return [key, odd, plain, plain[:6] + b"\x00\x00\x01\x01" + noise(rng, 1)]


def samples_bytes(samples: SegmentSamples, path: Path) -> bytes:
    _, recipe = samples.unpack()
    return b"".join(recipe.gather(path, np.empty(recipe.work_bytes, np.uint8)))


@pytest.mark.parametrize("split", [greedy, choppy], ids=["greedy", "choppy"])
def test_nal_units_are_split_as_ffmpeg_does(tmp_path: Path, split: Splitter) -> None:
    units = crafted_access_units(random.Random(7))
    path = tmp_path / "seq-000000000.ts"
    path.write_bytes(mux([(u, i * FRAME, i * FRAME) for i, u in enumerate(units)], split))
    samples = index_segment(path.read_bytes())
    assert samples is not None
    table, _ = samples.unpack()
    expected = [ffmpeg_avcc(u) for u in units]
    assert table.sizes.tolist() == [len(e) for e in expected]
    assert table.keys.tolist() == [True, False, False, False]
    assert table.dts.tolist() == [i * FRAME for i in range(4)]
    assert samples_bytes(samples, path) == b"".join(expected)


def test_start_codes_are_found_everywhere() -> None:
    es = np.frombuffer(b"\x00\x00\x01\x00\x00\x00\x01\xff\x00\x01\x00\x00\x01", np.uint8)
    assert start_codes(es).tolist() == [0, 4, 10]


def test_real_h264_cut_across_packets_indexes_like_ffmpeg(tmp_path: Path, h264_file: Path) -> None:
    units = real_access_units(h264_file, 30)
    path = tmp_path / "seq-000000000.ts"
    path.write_bytes(mux(units, choppy))
    samples = index_segment(path.read_bytes())
    assert samples is not None
    assert samples.unpack()[0].keys[0]
    assert samples_bytes(samples, path) == b"".join(ffmpeg_avcc(u) for u, _, _ in units)


def test_what_is_not_one_h264_stream_written_by_ffmpeg_is_not_indexed(
    tmp_path: Path, h264_file: Path
) -> None:
    units = real_access_units(h264_file, 5)
    good = mux(units)
    assert index_segment(good) is not None
    assert index_segment(mux(units, stream_type=0x24)) is None, "HEVC"
    assert index_segment(good[:-100]) is None, "a torn packet"
    assert index_segment(good[: 188 * 5] + good[188 * 6 :]) is None, "a lost packet"
    assert index_segment(b"\x00" * 188 * 4) is None, "not MPEG-TS"
    two = units[0][0] + units[1][0]
    assert index_segment(mux([(two, 0, 0), *units[2:]])) is None, "two frames in one PES"
    bare = [(u[len(AUD) :], pts, dts) for u, pts, dts in units]
    assert index_segment(mux(bare)) is None, "no access unit delimiters: not our muxer"
    ffmpeg = require_binary("ffmpeg")
    with_audio = tmp_path / "audio.ts"
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:v", "libx264",
         "-preset", "ultrafast", "-c:a", "aac", "-f", "mpegts", str(with_audio)],
        check=True, timeout=60,
    )  # fmt: skip
    assert index_segment(with_audio.read_bytes()) is None, "video and audio"


def test_the_index_survives_text_and_refuses_a_foreign_file(
    tmp_path: Path, h264_file: Path
) -> None:
    data = mux(real_access_units(h264_file, 5))
    samples = index_segment(data)
    assert samples is not None
    again = SegmentSamples.decode(samples.encode(), len(data))
    assert again is not None
    assert again.blob == samples.blob
    assert SegmentSamples.decode(samples.encode(), len(data) + 188) is None
    assert SegmentSamples.decode("not base64!", len(data)) is None
    assert SegmentSamples.decode(42, len(data)) is None
