"""A fake Web Push service on loopback, for driving the server's real Web Push sender (and,
later, browser tests) without the internet.

It hands out subscriptions as a browser gets them from its push service: an endpoint
`http://127.0.0.1:PORT/push/<id>`, and the "browser's" own P-256 key pair and 16-byte auth
secret. For each push it checks what a real push service checks (RFC 8030 headers, the
VAPID `Authorization: vapid t=<JWT>,k=<key>` of RFC 8292: an ES256 signature by `k`, `aud`
this service's origin, `exp` in the future and at most 24 h ahead, a `sub`; with
`subscribe(application_server_key=...)`, `k` must be that key), decrypts the aes128gcm body
as the browser would (RFC 8291 and RFC 8188, written here with `cryptography` alone, so the
sender's library is not checking itself), and answers 201, or what the test scripted for
that subscription.

    with FakeWebPush() as service:
        subscription = service.subscribe()
        service.respond(subscription.id, [503, 201])
        ...
        service.received(subscription.id)  # the decrypted JSON payloads it accepted
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tests.loopback import LoopbackServer

MAX_BODY = 4096  # what RFC 8030 obliges a push service to accept
MAX_VAPID_LIFETIME_S = 24 * 3600
URGENCIES = ("very-low", "low", "normal", "high")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Subscription:
    """What `PushManager.subscribe()` gives a browser (its `toJSON()`), plus the fake's id."""

    id: str
    endpoint: str
    p256dh: str  # the browser's public key, unpadded base64url of the uncompressed point
    auth: str  # the 16-byte auth secret, unpadded base64url

    def as_json(self) -> dict[str, Any]:
        """The subscription as a service worker posts it: {"endpoint", "keys": {...}}."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer."""

    status: int = 201
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class Push:
    """One request as the fake saw it and answered it."""

    subscription_id: str
    status: int
    headers: dict[str, str]  # lower-case names
    payload: Any  # the decrypted JSON; None when it was refused before decrypting
    claims: dict[str, Any] | None  # the VAPID token's claims, once verified
    problem: str | None  # why it was refused for being malformed (None: it was well formed)
    received_ns: int  # time.monotonic_ns()

    @property
    def ttl(self) -> int | None:
        value = self.headers.get("ttl")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def urgency(self) -> str | None:
        return self.headers.get("urgency")

    @property
    def topic(self) -> str | None:
        return self.headers.get("topic")


@dataclass
class _Browser:
    key: ec.EllipticCurvePrivateKey
    public: bytes  # uncompressed point
    auth: bytes
    server_key: bytes | None  # the application server key it subscribed with, if any
    script: deque[Reply] = field(default_factory=deque)


class Refused(Exception):
    """A push the fake refuses: the status and why."""

    def __init__(self, status: int, problem: str) -> None:
        self.status, self.problem = status, problem
        super().__init__(f"{status}: {problem}")


class FakeWebPush:
    """Start with `with FakeWebPush() as service:` (or `start()`/`stop()`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._browsers: dict[str, _Browser] = {}
        self._pushes: list[Push] = []
        self._ids = itertools.count(1)
        self._http = LoopbackServer(_handler(self), "fake Web Push service")

    # --- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> FakeWebPush:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1 and answer; returns once it accepts."""
        self._http.start()

    def stop(self) -> None:
        """Stop listening (bounded: raises if the server thread does not end)."""
        self._http.stop()

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def origin(self) -> str:
        return self._http.origin

    # --- what a test does ---------------------------------------------------------------
    def subscribe(self, application_server_key: str | None = None) -> Subscription:
        """A new subscription, as a browser gets one. With `application_server_key` (the
        server's VAPID public key, base64url), pushes signed by another key get 403."""
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        auth = os.urandom(16)
        server_key = unb64url(application_server_key) if application_server_key else None
        with self._lock:
            sub_id = f"s{next(self._ids)}"
            self._browsers[sub_id] = _Browser(key, public, auth, server_key)
        return Subscription(sub_id, f"{self.origin}/push/{sub_id}", b64url(public), b64url(auth))

    def respond(self, subscription_id: str, script: Sequence[int | Reply]) -> None:
        """Answer the subscription's next well-formed pushes from `script` in order (after
        it: 201). E.g. [410] for a subscription the browser dropped, [503, 201], or
        [Reply(429, retry_after="1")]."""
        replies = deque(r if isinstance(r, Reply) else Reply(r) for r in script)
        with self._lock:
            self._browsers[subscription_id].script = replies

    def received(self, subscription_id: str) -> list[Any]:
        """The decrypted JSON payloads the subscription's browser got (pushes answered 2xx),
        oldest first."""
        return [p.payload for p in self.pushes(subscription_id) if 200 <= p.status < 300]

    def pushes(self, subscription_id: str | None = None) -> list[Push]:
        """Every request (for the subscription), oldest first, refused ones included."""
        with self._lock:
            return [
                p for p in self._pushes
                if subscription_id is None or p.subscription_id == subscription_id
            ]  # fmt: skip

    # --- answering (server threads) -----------------------------------------------------
    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Reply]:
        received_ns = time.monotonic_ns()
        sub_id = path.removeprefix("/push/") if path.startswith("/push/") else ""
        with self._lock:
            browser = self._browsers.get(sub_id)
        payload: Any = None
        claims: dict[str, Any] | None = None
        problem: str | None = None
        if browser is None:
            reply = Reply(404)
        else:
            try:
                claims = self._check_vapid(headers.get("authorization", ""), browser)
                _check_headers(headers, body)
                payload = json.loads(_decrypt(body, browser))
                with self._lock:
                    reply = browser.script.popleft() if browser.script else Reply(201)
            except Refused as refused:
                problem, reply = refused.problem, Reply(refused.status)
        push = Push(sub_id, reply.status, headers, payload, claims, problem, received_ns)
        with self._lock:
            self._pushes.append(push)
            number = len(self._pushes)
        return number, reply

    def _check_vapid(self, authorization: str, browser: _Browser) -> dict[str, Any]:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise Refused(401, f"not a vapid Authorization: {authorization[:40]!r}")
        fields = dict(p.strip().partition("=")[::2] for p in params.split(","))
        token, key = fields.get("t", ""), fields.get("k", "")
        try:
            public = unb64url(key)
            claims = verify_es256(token, public)
        except (ValueError, InvalidSignature) as exc:
            raise Refused(401, f"VAPID token not valid: {exc!r}") from exc
        if browser.server_key is not None and public != browser.server_key:
            raise Refused(403, "VAPID key is not the one the subscription was made with")
        now = time.time()
        if claims.get("aud") != self.origin:
            raise Refused(401, f"VAPID aud {claims.get('aud')!r} is not {self.origin}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or not now < exp <= now + MAX_VAPID_LIFETIME_S:
            raise Refused(401, f"VAPID exp {exp!r} is not within the next 24 h")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
            raise Refused(401, f"VAPID sub {sub!r} is not a mailto: or https: URL")
        return claims


def _check_headers(headers: dict[str, str], body: bytes) -> None:
    ttl = headers.get("ttl")
    if ttl is None or not ttl.isdigit():
        raise Refused(400, f"TTL header missing or not a number: {ttl!r}")
    urgency = headers.get("urgency")
    if urgency is not None and urgency not in URGENCIES:
        raise Refused(400, f"Urgency {urgency!r} is not one of {URGENCIES}")
    topic = headers.get("topic")
    if topic is not None and not (
        0 < len(topic) <= 32 and all(c.isalnum() or c in "-_" for c in topic) and topic.isascii()
    ):
        raise Refused(400, f"Topic {topic!r} is not 1-32 URL-safe base64 characters")
    if headers.get("content-encoding") != "aes128gcm":
        raise Refused(400, f"Content-Encoding {headers.get('content-encoding')!r}")
    if len(body) > MAX_BODY:
        raise Refused(413, f"{len(body)} bytes: more than {MAX_BODY}")


def verify_es256(token: str, public: bytes) -> dict[str, Any]:
    """The claims of an ES256 JWT signed by the P-256 key `public` (uncompressed point)."""
    header, claims, signature = token.split(".")
    if json.loads(unb64url(header)).get("alg") != "ES256":
        raise ValueError("the JWT's alg is not ES256")
    raw = unb64url(signature)
    if len(raw) != 64:
        raise ValueError("an ES256 signature is 64 bytes")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    decoded: dict[str, Any] = json.loads(unb64url(claims))
    return decoded


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _decrypt(body: bytes, browser: _Browser) -> bytes:
    """RFC 8291 on the receiving side: one aes128gcm record (RFC 8188) whose key id is the
    sender's ephemeral public key."""
    if len(body) < 21 + 65 + 17:
        raise Refused(400, f"an aes128gcm body of {len(body)} bytes is too short")
    salt, record_size, id_length = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    sender = body[21 : 21 + id_length]
    ciphertext = body[21 + id_length :]
    if id_length != 65 or len(ciphertext) > record_size:
        raise Refused(400, f"key id of {id_length} bytes or more than one record")
    try:
        sender_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender)
        secret = browser.key.exchange(ec.ECDH(), sender_key)
        ikm = _hkdf(browser.auth, secret, b"WebPush: info\x00" + browser.public + sender, 32)
        key = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        padded = AESGCM(key).decrypt(nonce, ciphertext, None)
    except (ValueError, InvalidTag) as exc:
        raise Refused(400, f"cannot decrypt: {exc!r}") from exc
    plaintext = padded.rstrip(b"\x00")
    if not plaintext.endswith(b"\x02"):
        raise Refused(400, "the last record does not end with the delimiter 2")
    return plaintext[:-1]


def _handler(service: FakeWebPush) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so stop() leaves no connection behind.
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 2 * MAX_BODY))
            headers = {name.lower(): value for name, value in self.headers.items()}
            number, reply = service._answer(self.path, headers, body)
            self.send_response(reply.status)
            if 200 <= reply.status < 300:
                self.send_header("Location", f"{service.origin}/message/{number}")
            if reply.retry_after is not None:
                self.send_header("Retry-After", reply.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return  # the service records pushes itself

    return Handler
