"""Keyframe detection on real MPEG-TS segments written by ffmpeg."""

from __future__ import annotations

from pathlib import Path

from segmenter.formats.mpegts import HEAD_BYTES, TS_PACKET, starts_with_keyframe


def _first_video_pes_offset(data: bytes) -> int:
    for off in range(0, len(data), TS_PACKET):
        pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
        if pid == 0x100 and data[off + 1] & 0x40:
            return off
    raise AssertionError("no video PES start in the head")


def test_real_segments_start_with_a_keyframe(ts_segments: list[Path]) -> None:
    assert len(ts_segments) >= 3
    for path in ts_segments:
        assert starts_with_keyframe(path.read_bytes()[:HEAD_BYTES]), path.name


def test_cleared_random_access_bit_reads_as_no_keyframe(ts_segments: list[Path]) -> None:
    data = bytearray(ts_segments[0].read_bytes()[:HEAD_BYTES])
    off = _first_video_pes_offset(bytes(data))
    assert data[off + 3] & 0x20, "expected an adaptation field on the keyframe packet"
    data[off + 5] &= ~0x40 & 0xFF
    assert not starts_with_keyframe(bytes(data))


def test_garbage_and_truncation_are_not_keyframes(ts_segments: list[Path]) -> None:
    assert not starts_with_keyframe(b"")
    assert not starts_with_keyframe(b"\x00" * HEAD_BYTES)
    head = ts_segments[0].read_bytes()
    assert not starts_with_keyframe(head[: 2 * TS_PACKET])  # PAT and PMT only
