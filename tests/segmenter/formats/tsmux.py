"""A minimal MPEG-TS writer for tests: one H.264 stream, with packet splits chosen by the test."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import av

VIDEO_PID = 0x100
PMT_PID = 0x1000
NULL_PID = 0x1FFF
FRAME = 3600  # 40 ms at 90 kHz
AUD = b"\x00\x00\x00\x01\x09\xf0"  # an access unit delimiter, as ffmpeg's muxer adds
# Where to cut a PES packet into TS payloads: a list of payload sizes, and after which of
# them to put a null packet (so the payloads around it are not adjacent in the file).
Splitter = Callable[[bytes], tuple[list[int], set[int]]]


def crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _section(table_id: int, body: bytes) -> bytes:
    head = struct.pack(">BH", table_id, 0xB000 | (len(body) + 4))
    section = head + body
    return section + struct.pack(">I", crc32_mpeg(section))


def _packet(pid: int, payload: bytes, cc: int, start: bool) -> bytes:
    """One packet; a payload under 184 bytes is preceded by adaptation-field stuffing."""
    flags = 0x40 if start else 0
    header = struct.pack(">BHB", 0x47, flags << 8 | pid, 0x10 | (cc & 0x0F))
    free = 184 - len(payload)
    if free == 0:
        return header + payload
    header = header[:3] + bytes([0x30 | (cc & 0x0F)])
    stuffing = b"" if free == 1 else b"\x00" + b"\xff" * (free - 2)
    return header + bytes([free - 1]) + stuffing + payload


def _psi(pid: int, section: bytes) -> bytes:
    payload = b"\x00" + section
    return _packet(pid, payload + b"\xff" * (184 - len(payload)), 0, True)


def _timestamp(prefix: int, value: int) -> bytes:
    return bytes(
        [
            prefix << 4 | (value >> 29) & 0x0E | 1,
            (value >> 22) & 0xFF,
            (value >> 14) & 0xFE | 1,
            (value >> 7) & 0xFF,
            (value << 1) & 0xFE | 1,
        ]
    )


def pes(access_unit: bytes, pts: int, dts: int) -> bytes:
    header = b"\x00\x00\x01\xe0\x00\x00\x80\xc0\x0a" + _timestamp(3, pts) + _timestamp(1, dts)
    return header + access_unit


def greedy(data: bytes) -> tuple[list[int], set[int]]:
    sizes = [184] * (len(data) // 184)
    if len(data) % 184:
        sizes.append(len(data) % 184)
    return sizes, set()


def mux(
    access_units: Sequence[tuple[bytes, int, int]],
    split: Splitter = greedy,
    stream_type: int = 0x1B,
) -> bytes:
    """PAT, PMT, then one PES packet per (access unit, pts, dts), cut by `split`."""
    pat = _section(0x00, struct.pack(">HBBBHH", 1, 0xC1, 0, 0, 1, 0xE000 | PMT_PID))
    pmt = _section(
        0x02,
        struct.pack(">HBBBHH", 1, 0xC1, 0, 0, 0xE000 | VIDEO_PID, 0xF000)
        + struct.pack(">BHH", stream_type, 0xE000 | VIDEO_PID, 0xF000),
    )
    out = [_psi(0, pat), _psi(PMT_PID, pmt)]
    cc = 0
    for access_unit, pts, dts in access_units:
        data = pes(access_unit, pts, dts)
        sizes, nulls = split(data)
        assert sum(sizes) == len(data)
        assert all(0 < s <= 184 for s in sizes)
        at = 0
        for i, size in enumerate(sizes):
            out.append(_packet(VIDEO_PID, data[at : at + size], cc, i == 0))
            cc += 1
            at += size
            if i in nulls:
                out.append(_packet(NULL_PID, b"\xff" * 184, 0, False))
    return b"".join(out)


def choppy(data: bytes) -> tuple[list[int], set[int]]:
    """After the PES header (ffmpeg keeps it in one packet), payloads of 1 to 7 bytes with a
    null packet after every third: start codes are cut every way."""
    sizes, at, i = [20], 20, 0
    while at < len(data):
        size = min(1 + i % 7, len(data) - at)
        sizes.append(size)
        at += size
        i += 1
    return sizes, set(range(2, len(sizes), 3))


def real_access_units(h264_file: Path, count: int) -> list[tuple[bytes, int, int]]:
    with av.open(str(h264_file), format="h264") as source:
        # As ffmpeg's MPEG-TS muxer does, each starts with an access unit delimiter.
        units = [AUD + bytes(p) for p in source.demux(source.streams.video[0]) if p.size]
    return [(u, 126_000 + i * FRAME, 126_000 + i * FRAME) for i, u in enumerate(units[:count])]
