"""A fake FCM v1 server on loopback (messages:send answered per token from a script, plus
the OAuth token endpoint a service account's token_uri can point at), for driving the real
firebase-admin SDK in tests."""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.loopback import LoopbackServer

PROJECT = "doorbell-test"
STATIC_ACCESS_TOKEN = "static-test-token"  # accepted without a token exchange
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT = "<default>"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# HTTP status -> (google.rpc status, FCM errorCode or None, message), as FCM answers them.
ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT",
          "The registration token is not a valid FCM registration token"),
    401: ("UNAUTHENTICATED", None, "Request is missing required authentication credential."),
    403: ("PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    404: ("NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for the device."),
    500: ("INTERNAL", "INTERNAL", "Internal error encountered."),
    503: ("UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. error_code None: no FcmError detail; DEFAULT: FCM's for status."""

    status: int = 200
    retry_after: str | None = None
    message: str | None = None
    error_code: str | None = DEFAULT


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or the form fields of a token request
    received_ns: int  # time.monotonic_ns()
    status: int  # what the fake answered

    @property
    def token(self) -> str | None:
        message = self.body.get("message") if isinstance(self.body, dict) else None
        return message.get("token") if isinstance(message, dict) else None


@dataclass
class _State:
    scripts: dict[str, deque[Reply]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    token_reply: Reply | None = None
    sent: int = 0


class FakeFcm:
    """Start with `with FakeFcm() as fake:` (or start/stop). `down()` stops listening (the
    SDK's connections are refused) and `up()` listens again on the same port."""

    def __init__(self, project: str = PROJECT) -> None:
        self.project = project
        self.key = _test_key()
        self.client_email = f"push@{project}.iam.gserviceaccount.com"
        self._lock = threading.Lock()
        self._state = _State()
        self._http = LoopbackServer(_handler(self), "fake FCM server")

    # --- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> FakeFcm:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        """Listen (again: on the same port) and answer."""
        self._http.start()

    def down(self) -> None:
        """Stop listening: new connections are refused until `up()`."""
        self._http.stop()

    @property
    def port(self) -> int:
        return self._http.port

    # --- addresses ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._http.origin

    @property
    def fcm_url(self) -> str:
        """A value for firebase_admin.messaging._MessagingService.FCM_URL."""
        return self.base_url + "/v1/projects/{0}/messages:send"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    def service_account(self, path: Path) -> Path:
        """Write a service-account key whose token_uri is this fake."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        path.write_text(json.dumps({
            "type": "service_account", "project_id": self.project, "private_key_id": "k1",
            "private_key": pem, "client_email": self.client_email, "client_id": "1",
            "token_uri": self.token_uri,
        }))  # fmt: skip
        return path

    # --- script and record --------------------------------------------------------------
    def respond(self, token: str, script: Sequence[int | Reply]) -> None:
        """Answer `token`'s next sends from `script` in order; after it, 200."""
        replies = deque(r if isinstance(r, Reply) else Reply(r) for r in script)
        with self._lock:
            self._state.scripts[token] = replies

    def fail_token_requests(self, reply: Reply | None) -> None:
        """Answer the OAuth token endpoint with `reply` (None: issue tokens again)."""
        with self._lock:
            self._state.token_reply = reply

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._state.received)

    def sends(self, token: str | None = None) -> list[Received]:
        """messages:send requests (for `token`), oldest first."""
        return [
            r for r in self.received()
            if r.path.endswith("/messages:send") and (token is None or r.token == token)
        ]  # fmt: skip

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._state.issued)

    # --- answering (server threads) -----------------------------------------------------
    def _answer(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        received_ns = time.monotonic_ns()
        if method == "POST" and path == "/token":
            body: Any = dict(urllib.parse.parse_qsl(raw.decode()))
            status, extra, answer = self._token(body)
        else:
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None
            status, extra, answer = self._send(path, headers, body)
        with self._lock:
            self._state.received.append(Received(method, path, headers, body, received_ns, status))
        return status, extra, answer

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            reply = self._state.token_reply
        if reply is not None:
            return reply.status, {}, {"error": reply.message or "invalid_grant"}
        if form.get("grant_type") != JWT_GRANT or not self._valid_assertion(
            form.get("assertion", "")
        ):
            return 400, {}, {"error": "invalid_grant", "error_description": "bad assertion"}
        with self._lock:
            access = f"fake-access-{len(self._state.issued) + 1}"
            self._state.issued.append(access)
        return 200, {}, {"access_token": access, "expires_in": 3600, "token_type": "Bearer"}

    def _valid_assertion(self, assertion: str) -> bool:
        """An RS256 JWT signed by our key and issued by our service account. google-auth
        addresses it to Google's token endpoint whatever the token_uri, as Google expects."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return False
        try:
            self.key.public_key().verify(
                _b64(parts[2]), f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(), hashes.SHA256(),
            )  # fmt: skip
            claims = json.loads(_b64(parts[1]))
        except (InvalidSignature, ValueError):
            return False
        audiences = (GOOGLE_TOKEN_AUDIENCE, self.token_uri)
        return bool(claims.get("iss") == self.client_email and claims.get("aud") in audiences)

    def _send(
        self, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if path != f"/v1/projects/{self.project}/messages:send":
            return _error(Reply(404, error_code=None))
        auth = headers.get("authorization", "")
        with self._lock:
            known = {STATIC_ACCESS_TOKEN, *self._state.issued}
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in known:
            return _error(Reply(401))
        message = body.get("message") if isinstance(body, dict) else None
        token = message.get("token") if isinstance(message, dict) else None
        if not isinstance(token, str):
            return _error(Reply(400, message="Invalid JSON payload received.", error_code=None))
        with self._lock:
            script = self._state.scripts.get(token)
            reply = script.popleft() if script else Reply(200)
            if reply.status == 200:
                self._state.sent += 1
                name = f"projects/{self.project}/messages/{self._state.sent}"
        if reply.status != 200:
            return _error(reply)
        return 200, {}, {"name": name}


@functools.cache
def _test_key() -> rsa.RSAPrivateKey:
    """One key per test session: generating one takes a tenth of a second."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _error(reply: Reply) -> tuple[int, dict[str, str], Any]:
    status, code, text = ERRORS.get(reply.status, ("UNKNOWN", None, "Unknown error."))
    if reply.error_code != DEFAULT:
        code = reply.error_code
    error: dict[str, Any] = {"code": reply.status, "message": reply.message or text,
                             "status": status}  # fmt: skip
    if code is not None:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": code}]
    extra = {"Retry-After": reply.retry_after} if reply.retry_after is not None else {}
    return reply.status, extra, {"error": error}


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _handler(fake: FakeFcm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so down() leaves no connection behind.
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra, answer = fake._answer("POST", self.path, headers, raw)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the test records requests itself

    return Handler


@contextmanager
def running_fake(project: str = PROJECT) -> Iterator[FakeFcm]:
    """A started fake, stopped on exit (bounded: raises if its thread does not end)."""
    fake = FakeFcm(project)
    with fake:
        yield fake
