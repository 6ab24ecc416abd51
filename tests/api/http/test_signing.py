"""Signed URLs: bound to path and query, expiring, constant-time checked."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from api.http.signing import UrlSigner


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, dict(parse_qsl(parts.query))


def test_round_trip_and_expiry() -> None:
    clock = Clock()
    signer = UrlSigner(b"k" * 32, ttl_s=60, clock=clock)
    path, query = split(signer.sign("/api/v1/cameras/front/segments/7.ts"))
    assert query["exp"] == str(int(clock.now) + 60)
    assert signer.verify(path, query) == "ok"
    clock.now += 61
    assert signer.verify(path, query) == "expired"


def test_tampering_is_invalid() -> None:
    signer = UrlSigner(b"k" * 32, ttl_s=60, clock=Clock())
    path, query = split(signer.sign("/a/segments/7.ts", {"format": "mp4"}))
    assert signer.verify(path, query) == "ok"
    assert signer.verify("/a/segments/8.ts", query) == "invalid"
    assert signer.verify(path, query | {"format": "zip"}) == "invalid"
    assert signer.verify(path, query | {"exp": str(int(query["exp"]) + 3600)}) == "invalid"
    assert signer.verify(path, query | {"sig": query["sig"][:-1] + "A"}) == "invalid"
    assert signer.verify(path, {"exp": "soon", "sig": query["sig"]}) == "invalid"
    assert signer.verify(path, {}) == "invalid"
    other = UrlSigner(b"x" * 32, ttl_s=60, clock=Clock())
    assert other.verify(path, query) == "invalid"
