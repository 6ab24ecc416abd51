"""Signed media URLs for players that cannot send headers (AVPlayer, ExoPlayer, VLC, the image
in a push notification): an expiry and an HMAC bound to the path and the other query args."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import urlencode

Verdict = Literal["ok", "expired", "invalid"]
SIGNATURE_PARAMS = frozenset({"exp", "sig"})
# `exp` is unix seconds: 12 digits reach the year 33658. `sig`: 24 bytes in unpadded base64url.
MAX_EXP_DIGITS = 12
SIG_CHARS = 32


# Added by HLS players to a playlist URL (RFC 8216bis 6.2.5: `_HLS_msn`, `_HLS_part`,
# `_HLS_skip`): they only ask when to answer, so a signed URL stays valid with them.
PLAYER_DIRECTIVE_PREFIX = "_HLS_"


def _canonical(path: str, query: Mapping[str, str], exp: int) -> bytes:
    args = sorted(
        (k, v)
        for k, v in query.items()
        if k not in SIGNATURE_PARAMS and not k.startswith(PLAYER_DIRECTIVE_PREFIX)
    )
    return f"{exp}\n{path}\n{urlencode(args)}".encode()


class UrlSigner:
    """Mints and checks `?exp=<unix s>&sig=<base64url HMAC-SHA256>`."""

    def __init__(self, key: bytes, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._key, self.ttl_s, self._clock = key, ttl_s, clock

    def signature(self, path: str, query: Mapping[str, str], exp: int) -> str:
        digest = hmac.new(self._key, _canonical(path, query, exp), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")

    def expiry(self) -> int:
        return int(self._clock()) + self.ttl_s

    def sign(
        self, path: str, query: Mapping[str, str] | None = None, exp: int | None = None
    ) -> str:
        """`path?<query>&exp=..&sig=..`, valid until `exp` (default: now + ttl)."""
        query = dict(query or {})
        exp = self.expiry() if exp is None else exp
        query |= {"exp": str(exp), "sig": self.signature(path, query, exp)}
        return f"{path}?{urlencode(query)}"

    def verify(self, path: str, query: Mapping[str, str]) -> Verdict:
        exp_text, sig = query.get("exp", ""), query.get("sig", "")
        # ASCII digits only (`isdigit` alone takes "²", which `int` refuses), a bounded
        # length; and bytes compared, as `compare_digest` refuses non-ASCII str.
        well_formed = exp_text.isascii() and exp_text.isdigit() and sig.isascii()
        if not (well_formed and len(exp_text) <= MAX_EXP_DIGITS and len(sig) == SIG_CHARS):
            return "invalid"
        exp = int(exp_text)
        if not hmac.compare_digest(sig.encode(), self.signature(path, query, exp).encode()):
            return "invalid"
        return "ok" if self._clock() <= exp else "expired"
