"""`doorbell serve` with [tls]: real HTTPS from uvicorn, verified against a certificate made
here; HSTS and the Secure session cookie; renewals picked up from the files and on SIGHUP; a
broken renewal keeps the old certificate; plain HTTP on the port fails cleanly; the relay's
callbacks still reach the server (a publish is admitted)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from api.relay.conf import CONF_NAME
from tests.certs import SelfSigned, presented_serial, self_signed
from tests.conftest import require_binary, wait_for
from tests.stack.harness import TOKEN, Server, ffmpeg_publisher, free_port, spawn, stop

pytestmark = pytest.mark.stack

KEYS = {"front": "front-stream-key-0123456789"}
USER, PASSWORD = "ana", "correct horse battery"


@dataclass
class TlsServer(Server):
    """The harness's server with [tls]: clients trust `trusted` (the certificate in use)."""

    trusted: SelfSigned = field(default_factory=self_signed)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.http_port}"

    @property
    def cert_file(self) -> Path:
        return self.root / "tls" / "fullchain.pem"

    @property
    def key_file(self) -> Path:
        return self.root / "tls" / "privkey.pem"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.trusted.client_context(), timeout=5)

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited {self.proc.returncode}: {self.log_tail()}")
        try:
            with self.client() as client:
                return client.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with self.client() as client:
            return client.get(path, headers=headers)

    def replace(self, cert: SelfSigned, key: SelfSigned | None = None) -> None:
        """Renew as certbot and Caddy do: new files renamed over the old ones."""
        for path, pem in ((self.cert_file, cert.cert_pem), (self.key_file, (key or cert).key_pem)):
            fresh = path.with_suffix(".new")
            fresh.write_bytes(pem)
            fresh.replace(path)


def start(root: Path, reload_check_s: float, relay: bool = False) -> TlsServer:
    (root / "tls").mkdir()
    first = self_signed()
    first.write(root / "tls" / "fullchain.pem", root / "tls" / "privkey.pem")
    tls = {
        "cert_file": str(root / "tls" / "fullchain.pem"),
        "key_file": str(root / "tls" / "privkey.pem"),
        "reload_check_s": reload_check_s,
    }
    server = TlsServer(root, KEYS, relay=relay, extra={"tls": tls}, trusted=first)
    add_user(server)
    server.start()
    return server


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """One server for the module's tests, in order (the renewal test goes last)."""
    server = start(tmp_path_factory.mktemp("tls"), reload_check_s=0.5, relay=True)
    yield server
    server.stop()
    print(server.log_tail(60))


@pytest.fixture
def on_sighup(tmp_path: Path) -> Iterator[TlsServer]:
    server = start(tmp_path, reload_check_s=3600)
    yield server
    server.stop()
    print(server.log_tail(60))


def serial(server: TlsServer) -> int:
    return presented_serial("127.0.0.1", server.http_port)


def test_https_with_hsts_and_a_secure_session_cookie(polled: TlsServer) -> None:
    with polled.client() as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.headers["strict-transport-security"] == "max-age=31536000"
        assert health.extensions["http_version"] == b"HTTP/1.1"
        signed_in = client.post("/api/v1/session", json={"username": USER, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.headers["strict-transport-security"] == "max-age=31536000"
        attributes = [a.strip().lower() for a in signed_in.headers["set-cookie"].split(";")[1:]]
        assert "secure" in attributes
        assert "httponly" in attributes
        assert client.get("/api/v1/cameras").status_code == 200  # the cookie works over TLS


def test_plain_http_to_the_tls_port_fails_cleanly(polled: TlsServer) -> None:
    for _ in range(3):
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{polled.http_port}/healthz", timeout=5)
    assert polled.get("/healthz").status_code == 200
    assert polled.proc is not None
    assert polled.proc.poll() is None
    assert "Traceback" not in polled.log.read_text()


def test_the_relay_calls_back_over_loopback_http_and_admits_a_publish(
    polled: TlsServer, h264_file: Path
) -> None:
    publisher = ffmpeg_publisher(h264_file, polled.publish_url("front"), polled.root / "ff.log")
    try:
        wait_for("front online", lambda: polled.get("/api/v1/cameras/front").json()["online"], 20)
    finally:
        stop(publisher)
    # The callbacks' listener: loopback, plain HTTP, nothing but the relay's callbacks.
    conf = (polled.root / "data" / "relay" / CONF_NAME).read_text()
    found = re.search(r"on_publish http://127\.0\.0\.1:(\d+)/internal/relay/on_publish\?", conf)
    assert found is not None, conf
    callbacks = f"http://127.0.0.1:{found[1]}"
    assert int(found[1]) != polled.http_port
    for path in ("/healthz", "/api/v1/cameras", "/"):
        refused = httpx.get(f"{callbacks}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 404, path
        assert refused.json() == {"detail": "only the relay's callbacks are served here"}
    hook = httpx.post(f"{callbacks}/internal/relay/on_publish", data={"name": "front"})
    assert hook.status_code == 403  # the relay's route answered: no secret, refused


def test_renewed_files_are_served_to_new_handshakes(polled: TlsServer) -> None:
    first = polled.trusted
    assert serial(polled) == first.serial
    with polled.client() as kept:  # a connection open before the renewal
        assert kept.get("/healthz").status_code == 200
        second = self_signed()
        polled.replace(second)
        wait_for("the new certificate", lambda: serial(polled) == second.serial, 20)
        assert kept.get("/healthz").status_code == 200  # a kept-alive connection carries on
    polled.trusted = second
    assert polled.get("/healthz").status_code == 200  # verified against the new one

    # A broken renewal: a new certificate with the old key. Logged, old certificate kept.
    polled.replace(self_signed(), key=second)
    wait_for("the refusal logged", lambda: "still serving the previous" in polled.log_tail(), 20)
    assert serial(polled) == second.serial
    assert polled.get("/healthz").status_code == 200
    assert polled.log.read_text().count("still serving the previous certificate") == 1


def test_sighup_reloads_the_certificate_and_keeps_the_server(on_sighup: TlsServer) -> None:
    assert on_sighup.proc is not None
    first = on_sighup.trusted
    second = self_signed()
    on_sighup.replace(second)
    assert serial(on_sighup) == first.serial  # not polled for an hour: the old one still
    os.kill(on_sighup.proc.pid, signal.SIGHUP)
    wait_for("the new certificate", lambda: serial(on_sighup) == second.serial, 20)
    on_sighup.replace(self_signed(), key=first)  # broken: SIGHUP keeps the second
    os.kill(on_sighup.proc.pid, signal.SIGHUP)
    wait_for("the refusal", lambda: "still serving the previous" in on_sighup.log_tail(), 20)
    assert serial(on_sighup) == second.serial
    assert on_sighup.proc.poll() is None
    on_sighup.trusted = second
    assert on_sighup.get("/healthz").status_code == 200


CADDYFILE = Path(__file__).resolve().parents[2] / "infra" / "caddy" / "Caddyfile"
SITE = "{$DOORBELL_DOMAIN:localhost} {"


def caddy(root: Path, upstream: int, cert: SelfSigned) -> tuple[subprocess.Popen[bytes], int]:
    """The shipped Caddyfile run by Caddy on a free port, with the test's certificate in
    place of an ACME one and nothing written outside `root`."""
    binary = require_binary("caddy")
    port = free_port()
    cert.write(root / "proxy-cert.pem", root / "proxy-key.pem")
    text = CADDYFILE.read_text(encoding="utf-8")
    assert text.count(SITE) == 1
    text = text.replace(SITE, f"{SITE}\n\ttls {root / 'proxy-cert.pem'} {root / 'proxy-key.pem'}")
    config = root / "Caddyfile"
    config.write_text(
        f"{{\n\tadmin off\n\tskip_install_trust\n\thttp_port {free_port()}\n"
        f"\tstorage file_system {root / 'caddy-data'}\n}}\n\n{text}"
    )
    env = {
        "HOME": str(root), "XDG_DATA_HOME": str(root), "XDG_CONFIG_HOME": str(root),
        "DOORBELL_DOMAIN": f"https://127.0.0.1:{port}",
        "DOORBELL_UPSTREAM": f"127.0.0.1:{upstream}",
    }  # fmt: skip
    argv = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
    return spawn(argv, root / "caddy.log", env), port


def session_cookie_attributes(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [a.strip().lower() for a in response.headers["set-cookie"].split(";")[1:]]


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "plain").mkdir()
    server = Server(tmp_path / "plain", KEYS, relay=False)
    add_user(server)
    server.start()
    yield server
    server.stop()


def add_user(server: Server) -> None:
    subprocess.run(
        [sys.executable, "-m", "api", "user", "add", USER, "--password-stdin",
         "--config", str(server.config)],
        input=f"{PASSWORD}\n", text=True, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_behind_caddy_the_cookie_is_secure_and_hsts_is_sent(plain: Server, tmp_path: Path) -> None:
    cert = self_signed()
    proc, port = caddy(tmp_path, plain.http_port, cert)
    try:
        with httpx.Client(
            base_url=f"https://127.0.0.1:{port}", verify=cert.client_context(), timeout=5
        ) as client:
            health = wait_for("caddy up", lambda: _get_or_none(client, "/healthz"), 30)
            assert health.status_code == 200
            assert health.headers["strict-transport-security"] == "max-age=31536000"
            response = client.post("/api/v1/session", json={"username": USER, "password": PASSWORD})
            assert "secure" in session_cookie_attributes(response)
    finally:
        stop(proc)
    # The same server reached directly in plain HTTP: no Secure, no HSTS.
    direct = httpx.post(
        f"{plain.base}/api/v1/session", json={"username": USER, "password": PASSWORD}, timeout=5
    )
    assert "secure" not in session_cookie_attributes(direct)
    assert "strict-transport-security" not in direct.headers


def _get_or_none(client: httpx.Client, path: str) -> httpx.Response | None:
    try:
        return client.get(path)
    except httpx.HTTPError:
        return None


def test_forwarded_proto_from_an_untrusted_address_is_ignored(tmp_path: Path) -> None:
    server = Server(tmp_path, KEYS, relay=False, extra={"tls": {"trusted_proxies": ["10.9.9.9"]}})
    add_user(server)
    server.start()
    try:
        spoofed = httpx.post(
            f"{server.base}/api/v1/session",
            json={"username": USER, "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
            timeout=5,
        )
        assert "secure" not in session_cookie_attributes(spoofed)
        assert "strict-transport-security" not in spoofed.headers
    finally:
        server.stop()
