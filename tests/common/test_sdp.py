"""The offer checks and choices the API and the media worker share (common.sdp)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from common.sdp import MAX_OFFER_BYTES, OfferRefused, add_host_candidates, check_offer, choose_h264
from tests.webrtc import CHROMIUM_OFFER, without_h264_mode_1


def test_chromiums_offer_is_accepted() -> None:
    check_offer(CHROMIUM_OFFER)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda o: "hello", "must start with 'v=0'"),
        (lambda o: o.replace("m=video", "m=audio"), "no video media section"),
        (lambda o: o.replace("a=ice-ufrag:", "a=x-ufrag:"), "no ICE credentials"),
        (lambda o: o.replace("a=fingerprint:", "a=x-fingerprint:"), "no DTLS fingerprint"),
        (lambda o: o.replace("a=recvonly", "a=sendonly"), "must be recvonly or sendrecv"),
        (without_h264_mode_1, "no H.264 with packetization-mode=1"),
        (lambda o: o + "a=x:" + "y" * MAX_OFFER_BYTES, f"larger than {MAX_OFFER_BYTES} bytes"),
    ],
)
def test_what_cannot_be_answered_is_refused_saying_why(
    change: Callable[[str], str], problem: str
) -> None:
    with pytest.raises(OfferRefused, match=problem):
        check_offer(change(CHROMIUM_OFFER))


@pytest.mark.parametrize(
    ("profile", "payload_type", "profile_level_id"),
    [
        ("constrained-baseline", 108, "42e01f"),
        ("baseline", 102, "42001f"),
        ("main", 116, "4d001f"),
        # Chromium offers no High 4:2:0: constrained baseline, which every decoder takes.
        ("high", 108, "42e01f"),
        (None, 108, "42e01f"),
    ],
)
def test_the_stream_goes_out_as_its_own_profile_or_constrained_baseline(
    profile: str | None, payload_type: int, profile_level_id: str
) -> None:
    choice = choose_h264(CHROMIUM_OFFER, profile)
    assert (choice.payload_type, choice.profile_level_id) == (payload_type, profile_level_id)


def test_packetization_mode_0_is_never_chosen() -> None:
    only_mode_0 = CHROMIUM_OFFER.replace("packetization-mode=1", "packetization-mode=9")
    with pytest.raises(OfferRefused, match="packetization-mode=1"):
        choose_h264(only_mode_0, "main")


ANSWER = "\r\n".join(
    [
        "v=0",
        "m=video 9 UDP/TLS/RTP/SAVPF 108",
        "a=candidate:1 1 UDP 2015363327 192.168.1.20 8190 typ host",
        "a=candidate:2 1 TCP 1010827519 192.168.1.20 8191 typ host tcptype passive",
        "a=sendonly",
    ]
)


def test_additional_hosts_copy_each_udp_host_candidate_with_its_port() -> None:
    answer = add_host_candidates(ANSWER, ["203.0.113.7", "2001:db8::7"])
    added = [line for line in answer.split("\r\n") if "203.0.113.7" in line or "2001:db8" in line]
    assert added == [
        "a=candidate:110 1 UDP 2015363326 203.0.113.7 8190 typ host",
        "a=candidate:120 1 UDP 2015363325 2001:db8::7 8190 typ host",
    ]
    assert "192.168.1.20 8191 typ host tcptype passive" in answer
    assert add_host_candidates(ANSWER, []) == ANSWER
