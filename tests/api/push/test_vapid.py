"""The server's VAPID identity: the key file (made once, atomically, 0600; refused when it
cannot be used) and the signed Authorization per push service, on a fake clock."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.errors import ConfigError
from api.push.vapid import TOKEN_LIFETIME_S, VapidSigner, load_or_create_key, origin
from tests.fakewebpush import unb64url, verify_es256


def pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def test_a_key_is_made_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / "vapid.pem"  # the data dir does not exist yet
    made = load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert made.curve.name == "secp256r1"
    again = load_or_create_key(path)
    assert public_bytes(again) == public_bytes(made)
    assert [p.name for p in path.parent.iterdir()] == ["vapid.pem"]  # no temporary left


def test_servers_starting_together_end_up_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "vapid.pem"
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def load() -> None:
        start.wait(timeout=10)
        keys.append(public_bytes(load_or_create_key(path)))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(keys) == 8
    assert set(keys) == {public_bytes(load_or_create_key(path))}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not a PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", "not a PEM"),
        (pem(ec.generate_private_key(ec.SECP384R1())), "P-256"),
        (pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "P-256"),
    ],
)
def test_a_key_file_that_cannot_serve_is_refused_not_replaced(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "vapid.pem"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=words) as info:
        load_or_create_key(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content


def test_an_unreadable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vapid.pem"
    path.mkdir()  # read_bytes fails with IsADirectoryError, whoever runs the test
    with pytest.raises(ConfigError, match="cannot read the VAPID key"):
        load_or_create_key(path)


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="VAPID key: Not a directory"):
        load_or_create_key(tmp_path / "file" / "vapid.pem")


def test_a_key_that_cannot_be_written_is_refused() -> None:
    # Nobody, root included, makes directories in /proc.
    with pytest.raises(ConfigError, match="cannot create the VAPID key"):
        load_or_create_key(Path("/proc/doorbell-test/vapid.pem"))


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        ("https://Web.Push.Apple.com:443/x", "https://web.push.apple.com"),
        ("https://push.example.net:8443/x?y", "https://push.example.net:8443"),
        ("http://127.0.0.1:8090/push/s1", "http://127.0.0.1:8090"),
        ("http://localhost/push", "http://localhost"),
        ("http://[::1]:9/push", "http://[::1]:9"),
    ],
)
def test_the_audience_is_the_endpoints_origin(endpoint: str, expected: str) -> None:
    assert origin(endpoint) == expected


class FakeClock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def claims_of(header: str, public_key: str) -> dict[str, object]:
    scheme, _, params = header.partition(" ")
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert (scheme, fields["k"]) == ("vapid", public_key)
    return verify_es256(fields["t"], unb64url(fields["k"]))


def test_tokens_are_signed_per_origin_and_renewed_before_they_expire() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    clock = FakeClock(1_800_000_000_000)
    signer = VapidSigner(key, "mailto:ops@example.net", clock=clock)
    assert unb64url(signer.public_key) == public_bytes(key)
    assert "=" not in signer.public_key
    first = signer.authorization("https://fcm.googleapis.com/fcm/send/a")
    assert claims_of(first, signer.public_key) == {
        "aud": "https://fcm.googleapis.com",
        "exp": 1_800_000_000 + TOKEN_LIFETIME_S,
        "sub": "mailto:ops@example.net",
    }
    # Another subscription at the same service: the same token. Another service: its own.
    assert signer.authorization("https://fcm.googleapis.com/fcm/send/b") == first
    apple = signer.authorization("https://web.push.apple.com/x")
    assert claims_of(apple, signer.public_key)["aud"] == "https://web.push.apple.com"
    clock.now_ms += TOKEN_LIFETIME_S * 1000 // 2 - 1000
    assert signer.authorization("https://fcm.googleapis.com/fcm/send/a") == first
    clock.now_ms += 2000  # less than half of its lifetime left: signed again
    renewed = signer.authorization("https://fcm.googleapis.com/fcm/send/a")
    assert renewed != first
    exp = claims_of(renewed, signer.public_key)["exp"]
    assert exp == clock.now_ms // 1000 + TOKEN_LIFETIME_S


def test_the_jwt_header_is_es256() -> None:
    signer = VapidSigner(ec.generate_private_key(ec.SECP256R1()), "https://door.example.net")
    token = signer.authorization("https://push.example.net/x").split("t=")[1].split(",")[0]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"typ": "JWT", "alg": "ES256"}
