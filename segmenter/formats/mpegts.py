"""Reading just enough MPEG-TS to see a segment's streams and whether it starts with a keyframe."""

from __future__ import annotations

TS_PACKET = 188
SYNC = 0x47
# H.264 and H.265 stream types in a PMT.
VIDEO_STREAM_TYPES = {0x1B, 0x24}
# How much of a file `starts_with_keyframe` needs: PAT, PMT and the first video packet come first.
HEAD_BYTES = 16 * TS_PACKET


def _packets(data: bytes) -> list[tuple[int, bool, bytes, bytes]]:
    """(pid, payload_unit_start, adaptation field, payload) for each whole packet in `data`."""
    out = []
    for off in range(0, len(data) - TS_PACKET + 1, TS_PACKET):
        pkt = data[off : off + TS_PACKET]
        if pkt[0] != SYNC:
            break
        pusi = bool(pkt[1] & 0x40)
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        afc = (pkt[3] >> 4) & 0x3
        pos = 4
        adaptation = b""
        if afc & 0x2:
            length = pkt[4]
            adaptation = pkt[5 : 5 + length]
            pos = 5 + length
        payload = pkt[pos:] if afc & 0x1 else b""
        out.append((pid, pusi, adaptation, payload))
    return out


def _section(payload: bytes) -> bytes:
    """A PSI section's bytes after its pointer field."""
    return payload[1 + payload[0] :] if payload else b""


def _pmt_pid(pat: bytes) -> int | None:
    length = ((pat[1] & 0x0F) << 8) | pat[2]
    body = pat[8 : 3 + length - 4]
    for i in range(0, len(body) - 3, 4):
        program = (body[i] << 8) | body[i + 1]
        if program != 0:
            return ((body[i + 2] & 0x1F) << 8) | body[i + 3]
    return None


def _streams(pmt: bytes) -> list[tuple[int, int]]:
    """(stream type, pid) of each elementary stream in a PMT section."""
    length = ((pmt[1] & 0x0F) << 8) | pmt[2]
    info_len = ((pmt[10] & 0x0F) << 8) | pmt[11]
    pos, end = 12 + info_len, 3 + length - 4
    out = []
    while pos + 5 <= end:
        stream_type = pmt[pos]
        pid = ((pmt[pos + 1] & 0x1F) << 8) | pmt[pos + 2]
        es_len = ((pmt[pos + 3] & 0x0F) << 8) | pmt[pos + 4]
        out.append((stream_type, pid))
        pos += 5 + es_len
    return out


def _video_pid(pmt: bytes) -> int | None:
    for stream_type, pid in _streams(pmt):
        if stream_type in VIDEO_STREAM_TYPES:
            return pid
    return None


def program_streams(head: bytes) -> list[tuple[int, int]] | None:
    """(stream type, pid) of every elementary stream of the first program, from the PAT and
    PMT at the start of `head`; None if they are not there or malformed."""
    pmt_pid = None
    try:
        for pid, pusi, _adaptation, payload in _packets(head):
            if pid == 0 and pusi and pmt_pid is None:
                pmt_pid = _pmt_pid(_section(payload))
            elif pid == pmt_pid and pusi:
                return _streams(_section(payload))
    except IndexError:
        return None
    return None


def starts_with_keyframe(head: bytes) -> bool:
    """True if the first video access unit in `head` is marked as a random access point.

    ffmpeg's muxer sets the adaptation field's random_access_indicator on the first packet of
    every keyframe, so this reads PAT -> PMT -> the first video packet and checks that bit.
    """
    pmt_pid = video_pid = None
    try:
        for pid, pusi, adaptation, payload in _packets(head):
            if pid == 0 and pusi and pmt_pid is None:
                pmt_pid = _pmt_pid(_section(payload))
            elif pid == pmt_pid and pusi and video_pid is None:
                video_pid = _video_pid(_section(payload))
            elif pid == video_pid and pusi:
                return bool(adaptation) and bool(adaptation[0] & 0x40)
    except IndexError:
        return False
    return False
