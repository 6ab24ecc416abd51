"""Serving a moov-at-end MP4 moov-first, without rewriting it."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from segmenter.clip import remux_mp4
from segmenter.errors import ClipError
from segmenter.formats.faststart import faststart_layout
from segmenter.model import Segment
from tests.conftest import require_binary


def assemble(ts_segments: list[Path], out: Path) -> bytes:
    segments = [
        Segment("front", i, 1, i * 1000, (i + 1) * 1000, p.stat().st_size, p, True)
        for i, p in enumerate(ts_segments)
    ]
    remux_mp4(segments, out, fragmented=False)
    data = out.read_bytes()
    layout = faststart_layout(out)
    body = b"".join(
        p.data if p.data is not None else data[p.offset : p.offset + p.length]
        for p in layout.pieces
    )
    assert len(body) == layout.size == len(data)
    return body


def test_layout_is_a_playable_faststart_mp4(ts_segments: list[Path], tmp_path: Path) -> None:
    ffmpeg = require_binary("ffmpeg")
    moov_last = tmp_path / "moov-last.mp4"
    body = assemble(ts_segments, moov_last)
    raw = moov_last.read_bytes()
    assert raw.find(b"moov") > raw.find(b"mdat"), "written with the moov last"
    assert body.find(b"moov") < body.find(b"mdat"), "served with the moov first"
    served = tmp_path / "served.mp4"
    served.write_bytes(body)
    decode = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(served), "-f", "null", "-"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert decode.returncode == 0
    assert decode.stderr == ""
    # ffmpeg's own faststart of the same file is the same size and has the same media bytes.
    reference = tmp_path / "reference.mp4"
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(moov_last), "-c", "copy", "-movflags", "+faststart",
         str(reference)],
        check=True, timeout=60,
    )  # fmt: skip
    ref = reference.read_bytes()
    assert len(ref) == len(body)
    assert ref[ref.find(b"mdat") :] == body[body.find(b"mdat") :]


def test_files_that_are_not_moov_last_mp4_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00")
    with pytest.raises(ClipError, match="expected ftyp"):
        faststart_layout(junk)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x04ftyp")
    with pytest.raises(ClipError, match="malformed"):
        faststart_layout(broken)


def test_unreadable_files_and_short_box_tables_are_clip_errors(tmp_path: Path) -> None:
    with pytest.raises(ClipError, match="moov-first"):
        faststart_layout(tmp_path / "gone.mp4")
    ftyp = struct.pack(">I4s4sI", 16, b"ftyp", b"isom", 0x200)
    mdat = struct.pack(">I4s", 8, b"mdat")
    stco = struct.pack(">I4sII", 16, b"stco", 0, 1000)  # 1000 offsets announced, none there
    short = tmp_path / "short.mp4"
    short.write_bytes(ftyp + mdat + struct.pack(">I4s", 8 + len(stco), b"moov") + stco)
    with pytest.raises(ClipError, match="moov-first"):
        faststart_layout(short)
