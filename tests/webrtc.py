"""A real WebRTC offer, as Debian's Chromium 156 makes it for a recvonly video transceiver
(its H.264 formats: 102 baseline, 108 constrained baseline, 116 main, 41 high 4:4:4; each in
packetization modes 1 and 0), for tests that need an offer without a browser."""

from __future__ import annotations

from pathlib import Path

CHROMIUM_OFFER = Path(__file__).with_name("chromium-offer.sdp").read_bytes().decode()


def without_h264_mode_1(offer: str) -> str:
    """The offer with every H.264 format of packetization mode 1 dropped."""
    lines = offer.split("\r\n")
    drop = {
        line.split()[0].removeprefix("a=fmtp:")
        for line in lines
        if line.startswith("a=fmtp:") and "packetization-mode=1" in line
    }
    return "\r\n".join(
        line
        for line in lines
        if not any(
            line.startswith(f"a={kind}:{pt} ")
            for pt in drop
            for kind in ("rtpmap", "fmtp", "rtcp-fb")
        )
    )
