"""H.264 parameter sets for an MP4 sample entry: SPS picture size and the avcC record."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from segmenter.errors import ClipError

NAL_SPS = 7
NAL_PPS = 8
# Profiles whose SPS carries chroma format and bit depths (and whose avcC has the extension).
HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
AVCC_EXTENDED = frozenset({100, 110, 122, 144})
_EMULATION = re.compile(b"\x00\x00\x03")


@dataclass(frozen=True, slots=True)
class ParameterSets:
    """The first SPS and PPS of a keyframe, as NAL units (emulation prevention kept)."""

    sps: bytes
    pps: bytes
    width: int
    height: int
    chroma_format: int
    bit_depth_luma: int
    bit_depth_chroma: int


def avcc_nal_units(sample: bytes | memoryview) -> Iterator[bytes]:
    """The NAL units of an MP4 sample (each behind a 4-byte big-endian length)."""
    pos = 0
    while pos + 4 <= len(sample):
        (length,) = struct.unpack_from(">I", sample, pos)
        yield bytes(sample[pos + 4 : pos + 4 + length])
        pos += 4 + length


class _Bits:
    """An Exp-Golomb bit reader over an RBSP."""

    def __init__(self, rbsp: bytes) -> None:
        self._value = int.from_bytes(rbsp, "big")
        self._left = len(rbsp) * 8

    def u(self, n: int) -> int:
        if n > self._left:
            raise ClipError("truncated SPS")
        self._left -= n
        return (self._value >> self._left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ClipError("malformed SPS")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def _chroma_fields(bits: _Bits, profile: int) -> tuple[int, int, int, int]:
    """(chroma_format_idc, luma depth, chroma depth, separate_colour_plane): read for the
    high profiles, the 4:2:0 8-bit defaults for the others."""
    if profile not in HIGH_PROFILES:
        return 1, 8, 8, 0
    chroma = bits.ue()
    separate = bits.u(1) if chroma == 3 else 0
    depth_luma, depth_chroma = bits.ue() + 8, bits.ue() + 8
    bits.u(1)  # qpprime_y_zero_transform_bypass_flag
    if bits.u(1):  # seq_scaling_matrix_present_flag
        for i in range(8 if chroma != 3 else 12):
            if bits.u(1):
                _skip_scaling_list(bits, 16 if i < 6 else 64)
    return chroma, depth_luma, depth_chroma, separate


def _skip_picture_order(bits: _Bits) -> None:
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()


def parameter_sets(sps: bytes, pps: bytes) -> ParameterSets:
    """Parse the SPS far enough for the picture size (cropping applied)."""
    bits = _Bits(_EMULATION.sub(b"\x00\x00", sps[1:]))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma, depth_luma, depth_chroma, separate = _chroma_fields(bits, profile)
    bits.ue()  # log2_max_frame_num_minus4
    _skip_picture_order(bits)
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue()) if bits.u(1) else (0, 0, 0, 0)
    array_type = 0 if separate else chroma
    unit_x = 1 if array_type in (0, 3) else 2
    unit_y = (2 - frame_mbs_only) * (2 if array_type == 1 else 1)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise ClipError(f"SPS gives a {width}x{height} picture")
    return ParameterSets(sps, pps, width, height, chroma, depth_luma, depth_chroma)


def find_parameter_sets(sample: bytes | memoryview) -> ParameterSets | None:
    """The first SPS and PPS inside an MP4 sample (a keyframe carries them in-band)."""
    sps = pps = None
    for nal in avcc_nal_units(sample):
        kind = nal[0] & 0x1F if nal else 0
        if kind == NAL_SPS and sps is None:
            sps = nal
        elif kind == NAL_PPS and pps is None:
            pps = nal
    if sps is None or pps is None or len(sps) < 4:
        return None
    return parameter_sets(sps, pps)


def avcc_record(ps: ParameterSets) -> bytes:
    """The AVCDecoderConfigurationRecord (ISO/IEC 14496-15) as ffmpeg writes it."""
    profile = ps.sps[1]
    record = bytes([1, profile, ps.sps[2], ps.sps[3], 0xFF, 0xE1])
    record += struct.pack(">H", len(ps.sps)) + ps.sps
    record += b"\x01" + struct.pack(">H", len(ps.pps)) + ps.pps
    if profile in AVCC_EXTENDED:
        record += bytes(
            [
                0xFC | ps.chroma_format,
                0xF8 | (ps.bit_depth_luma - 8),
                0xF8 | (ps.bit_depth_chroma - 8),
                0,
            ]
        )
    return record
