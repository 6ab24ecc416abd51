"""The server's Web Push identity (VAPID, RFC 8292): its P-256 key, kept in the data dir and
made on first start; the public key browsers subscribe with; the signed `Authorization` each
push service is sent, one per origin, re-signed before it expires."""

from __future__ import annotations

import base64
import logging
import os
import secrets
import urllib.parse
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt

from api.errors import ConfigError
from common.clock import Clock, wall_ms

logger = logging.getLogger(__name__)

KEY_MODE = 0o600
# RFC 8292 allows at most 24 h; push services differ in what they accept, 12 h is what
# pywebpush uses. A token is re-signed once less than half of its lifetime is left.
TOKEN_LIFETIME_S = 12 * 3600
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_ORIGINS = 64  # tokens kept; beyond, the cache starts again (push services are few)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The VAPID key in `path` (PEM), made when there is none: written to a temporary file
    (mode 0600, fsynced) that is then linked to `path`, so the file is whole or absent, and
    two servers starting at once end up with one key. Blocking file I/O: call it in a thread.
    A file that exists but cannot be read, or holds no P-256 private key, is a ConfigError
    naming it: replacing it would silently unsubscribe every browser."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        made = _create_exclusively(path, pem)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the VAPID key: {exc.strerror or exc}") from exc
    if not made:  # another process made it first: use theirs
        return _read_key(path)
    logger.info("made a new VAPID (Web Push) key in %s", path)
    return key


def _create_exclusively(path: Path, data: bytes) -> bool:
    """Write `data` to `path` unless it exists; whether this call made it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True
    finally:
        temporary.unlink(missing_ok=True)


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the VAPID key: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"{path}: not a PEM private key without a password ({exc}); restore it from a "
            "backup, or delete it to make a new one (every browser must then subscribe again)"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError(f"{path}: the VAPID key must be an EC P-256 (secp256r1) private key")
    if path.stat().st_mode & 0o077:
        logger.warning("%s can be read by others: chmod 600 it", path)
    return key


def origin(endpoint: str) -> str:
    """The ASCII origin (scheme://host[:port], default port left out) of a push endpoint: the
    `aud` of its VAPID token."""
    parts = urllib.parse.urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


class VapidSigner:
    """Signs VAPID tokens with the server's key: `authorization(endpoint)` is the
    `Authorization: vapid t=<JWT>,k=<public key>` header for that endpoint's push service."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        subject: str,
        *,
        lifetime_s: int = TOKEN_LIFETIME_S,
        clock: Clock = wall_ms,
    ) -> None:
        if lifetime_s < 60:
            raise ValueError(f"lifetime_s must be >= 60, not {lifetime_s}")
        self._key, self._subject = key, subject
        self._lifetime_s, self._clock = lifetime_s, clock
        self.public_key = b64url(
            key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        self._signed: dict[str, tuple[str, int]] = {}  # origin -> (header, exp)

    @property
    def subject(self) -> str:
        return self._subject

    def authorization(self, endpoint: str) -> str:
        """The header for `endpoint`'s origin, signed again when less than half of its
        lifetime is left. One token per origin: the push services are few."""
        audience = origin(endpoint)
        now_s = self._clock() // 1000
        cached = self._signed.get(audience)
        if cached is not None and cached[1] - now_s > self._lifetime_s // 2:
            return cached[0]
        exp = now_s + self._lifetime_s
        if len(self._signed) >= _MAX_ORIGINS:
            self._signed.clear()
        token = jwt.sign({"aud": audience, "exp": exp, "sub": self._subject}, self._key)
        header = f"vapid t={token},k={self.public_key}"
        self._signed[audience] = (header, exp)
        return header
