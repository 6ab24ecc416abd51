"""WebRTC offers and answers as plain text (RFC 8866 lines; no GStreamer): whether an offer
can be answered at all (checked by the API before it bothers the media worker), which H.264
payload type carries a camera's stream, and the extra addresses a viewer can reach us at."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_OFFER_BYTES = 64 * 1024

# profile_idc (first byte of profile-level-id) and the constraint flags we may announce, by
# the profile name h264parse gives the stream's caps.
_PROFILE_IDC = {
    "constrained-baseline": "42",
    "baseline": "42",
    "main": "4d",
    "high": "64",
}
_RTPMAP = re.compile(r"^a=rtpmap:(\d{1,3}) ([A-Za-z0-9-]+)/(\d+)", re.MULTILINE)
_FMTP = re.compile(r"^a=fmtp:(\d{1,3}) (.*)$", re.MULTILINE)


class OfferRefused(ValueError):
    """The offer cannot be answered; the message says what was wrong and what is allowed."""


@dataclass(frozen=True, slots=True)
class H264Choice:
    payload_type: int
    profile_level_id: str  # as offered, six hex digits


def check_offer(text: str) -> None:
    """Refuse what is not an SDP offer for receiving video, naming what was wrong."""
    if len(text.encode()) > MAX_OFFER_BYTES:
        raise OfferRefused(f"the SDP offer is larger than {MAX_OFFER_BYTES} bytes")
    if not text.startswith("v=0"):
        raise OfferRefused("the body is not an SDP offer: it must start with 'v=0'")
    if not re.search(r"^m=video ", text, re.MULTILINE):
        raise OfferRefused("the SDP offer has no video media section ('m=video')")
    if not re.search(r"^a=ice-ufrag:", text, re.MULTILINE):
        raise OfferRefused("the SDP offer has no ICE credentials ('a=ice-ufrag')")
    if not re.search(r"^a=fingerprint:", text, re.MULTILINE):
        raise OfferRefused("the SDP offer has no DTLS fingerprint ('a=fingerprint')")
    if re.search(r"^a=(sendonly|inactive)\s*$", _video_section(text), re.MULTILINE):
        raise OfferRefused("the offer's video section must be recvonly or sendrecv")
    choose_h264(text, None)


def _video_section(text: str) -> str:
    start = re.search(r"^m=video ", text, re.MULTILINE)
    if start is None:
        return ""
    rest = text[start.start() :]
    end = re.search(r"^m=", rest[2:], re.MULTILINE)
    return rest if end is None else rest[: end.start() + 2]


def choose_h264(text: str, profile: str | None) -> H264Choice:
    """The offer's payload type for our stream: H.264 in packetization mode 1, preferably of
    the stream's own profile, else constrained baseline, else any. Browsers' H.264 decoders
    take any profile whatever was negotiated (go2rtc and MediaMTX answer the same way); the
    profile-level-id only steers their encoders. Raises OfferRefused when there is none."""
    wanted = _PROFILE_IDC.get(profile or "", "")
    best: tuple[int, H264Choice] | None = None
    for pt, plid in _h264_payloads(_video_section(text)):
        idc, constrained = plid[:2], bool(int(plid[2:4], 16) & 0x40)
        if idc == wanted and constrained == (profile == "constrained-baseline"):
            rank = 4
        elif idc == wanted:
            rank = 3
        elif idc == "42" and constrained:
            rank = 2
        else:
            rank = 1
        if best is None or rank > best[0]:
            best = (rank, H264Choice(pt, plid))
    if best is None:
        raise OfferRefused(
            "the offer has no H.264 with packetization-mode=1 (the server passes the "
            "camera's H.264 through and cannot transcode)"
        )
    return best[1]


def _h264_payloads(section: str) -> list[tuple[int, str]]:
    """(payload type, profile-level-id) of each H.264/90000 format in packetization mode 1."""
    fmtp = {int(pt): params for pt, params in _FMTP.findall(section)}
    found = []
    for pt_text, name, rate in _RTPMAP.findall(section):
        if name.upper() != "H264" or rate != "90000":
            continue
        params = dict(
            item.strip().partition("=")[::2] for item in fmtp.get(int(pt_text), "").split(";")
        )
        plid = params.get("profile-level-id", "42001f").lower()
        if params.get("packetization-mode") == "1" and re.fullmatch(r"[0-9a-f]{6}", plid):
            found.append((int(pt_text), plid))
    return found


def add_host_candidates(answer: str, addresses: list[str]) -> str:
    """Copy each UDP host candidate of the answer for every address in `addresses` (a public
    address a NAT forwards the same ports from, or a LAN address the automatic list missed):
    MediaMTX's `webrtcAdditionalHosts`."""
    if not addresses:
        return answer
    out: list[str] = []
    for line in answer.splitlines():
        out.append(line)
        parts = line.split()
        if not line.startswith("a=candidate:") or len(parts) < 8:
            continue
        if parts[2].lower() != "udp" or parts[7] != "host":
            continue
        for n, address in enumerate(addresses):
            extra = [f"{parts[0]}{n + 1}0", parts[1], parts[2], str(int(parts[3]) - n - 1)]
            out.append(" ".join([*extra, address, *parts[5:]]))
    return "\r\n".join(out) + "\r\n"
