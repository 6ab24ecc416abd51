"""The server's TLS context and its certificate reloads (handshakes in memory, no sockets),
and HSTS on answers over HTTPS only."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from api.config import Settings, TlsSettings
from api.errors import ConfigError
from api.http.tls import Certificate, ServerTls, server_context
from tests.api.conftest import InProcess, serve
from tests.certs import SelfSigned, self_signed


def client_context(maximum: ssl.TLSVersion | None = None, ciphers: str = "") -> ssl.SSLContext:
    """A client that accepts any certificate, offers h2 and http/1.1, and optionally only up
    to TLS `maximum` with `ciphers`."""
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.set_alpn_protocols(["h2", "http/1.1"])
    if maximum is not None:
        client.maximum_version = maximum
    if ciphers:
        client.set_ciphers(ciphers)
    return client


def handshake(server: ssl.SSLContext, client: ssl.SSLContext | None = None) -> tuple[int, str, str]:
    """A TLS handshake between `server` and a client in memory: the serial number of the
    certificate the server presented, the protocol agreed by ALPN, and the TLS version."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = (client or client_context()).wrap_bio(c_in, c_out, server_hostname="localhost")
    server_side = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, end in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values()), "the handshake did not finish"
    der = client_side.getpeercert(binary_form=True)
    assert der is not None
    serial = x509.load_der_x509_certificate(der).serial_number
    return serial, client_side.selected_alpn_protocol() or "", client_side.version() or ""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "fullchain.pem", tmp_path / "privkey.pem"


def loaded(files: tuple[Path, Path]) -> tuple[Certificate, SelfSigned]:
    first = self_signed()
    first.write(*files)
    certificate = Certificate(*files)
    certificate.load()
    return certificate, first


def test_the_context_speaks_tls12_and_up_with_modern_ciphers_and_http11_by_alpn(
    files: tuple[Path, Path],
) -> None:
    certificate, first = loaded(files)
    assert certificate.context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert handshake(certificate.context) == (first.serial, "http/1.1", "TLSv1.3")
    tls12 = client_context(maximum=ssl.TLSVersion.TLSv1_2)
    assert handshake(certificate.context, tls12) == (first.serial, "http/1.1", "TLSv1.2")
    # CBC with SHA-1 (no AEAD): refused under TLS 1.2.
    weak = client_context(maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA")
    with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE|NO_SHARED_CIPHER"):
        handshake(certificate.context, weak)


def test_a_reload_presents_the_new_certificate_on_the_same_context(
    files: tuple[Path, Path],
) -> None:
    certificate, first = loaded(files)
    context = certificate.context
    assert not certificate.changed()
    second = self_signed()
    second.write(*files)
    assert certificate.changed()
    assert certificate.reload("test")
    assert certificate.context is context
    assert handshake(context)[0] == second.serial != first.serial
    assert not certificate.changed()


@pytest.mark.parametrize("breakage", ["mismatched key", "garbage cert", "missing key"])
def test_a_broken_renewal_keeps_the_old_certificate_and_is_logged_once(
    files: tuple[Path, Path], breakage: str, caplog: pytest.LogCaptureFixture
) -> None:
    certificate, first = loaded(files)
    cert_file, key_file = files
    if breakage == "mismatched key":
        # The new certificate lands before its key: the worst order for a live context.
        cert_file.write_bytes(self_signed().cert_pem)
    elif breakage == "garbage cert":
        cert_file.write_bytes(
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
        )
    else:
        key_file.unlink()
    caplog.set_level(logging.ERROR, logger="api.http.tls")
    assert certificate.changed()
    assert not certificate.reload("test")
    assert not certificate.reload("SIGHUP")  # the same broken files: not logged again
    assert not certificate.changed()
    assert handshake(certificate.context)[0] == first.serial
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 1, errors
    assert "still serving the previous certificate" in errors[0]
    assert str(cert_file) in errors[0]


def test_the_fixed_renewal_after_a_broken_one_is_used(files: tuple[Path, Path]) -> None:
    certificate, _ = loaded(files)
    files[0].write_bytes(self_signed().cert_pem)  # key does not match
    assert not certificate.reload("test")
    third = self_signed()
    third.write(*files)
    assert certificate.changed()
    assert certificate.reload("test")
    assert handshake(certificate.context)[0] == third.serial


def test_a_first_load_that_fails_is_a_config_error(files: tuple[Path, Path]) -> None:
    files[0].write_bytes(self_signed().cert_pem)
    files[1].write_bytes(self_signed().key_pem)
    with pytest.raises(ConfigError, match="the private key does not belong to the certificate"):
        Certificate(*files).load()
    assert server_context().minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tls", "base", "expected"),
    [
        ({}, "https://doorbell.test", "max-age=31536000"),
        ({"hsts_max_age_s": 600, "hsts_include_subdomains": True}, "https://doorbell.test",
         "max-age=600; includeSubDomains"),
        ({}, "http://doorbell.test", None),
        ({"hsts_max_age_s": 0}, "https://doorbell.test", None),
    ],
)  # fmt: skip
async def test_hsts_on_every_answer_over_https_only(
    tier_settings: Settings, tls: dict[str, object], base: str, expected: str | None
) -> None:
    settings = tier_settings.model_copy(update={"tls": tier_settings.tls.model_copy(update=tls)})
    async with serve(settings) as server:
        await answers_carry(server, base, expected)


async def answers_carry(server: InProcess, base: str, expected: str | None) -> None:
    async with server.browser(base) as browser:
        for path, status in (("/healthz", 200), ("/api/v1/cameras", 401), ("/", 200)):
            response = await browser.get(path)
            assert response.status_code == status, path
            assert response.headers.get("strict-transport-security") == expected, path


def test_with_tls_the_relay_calls_back_on_loopback_and_links_stay_https(
    tier_settings: Settings, files: tuple[Path, Path]
) -> None:
    self_signed().write(*files)
    tls = TlsSettings(cert_file=files[0], key_file=files[1])
    settings = tier_settings.model_copy(update={"tls": tls, "host": "0.0.0.0", "port": 8443})
    assert settings.public_base == "https://door.example"  # public_url wins
    settings = settings.model_copy(update={"public_url": ""})
    built, running = ServerTls.build(settings)
    assert built is not None
    assert built.callback_socket is not None
    try:
        host, port = built.callback_socket.getsockname()
        assert host == "127.0.0.1"
        assert running.callback_base == f"http://127.0.0.1:{port}"
        assert running.public_base == "https://127.0.0.1:8443"
    finally:
        built.callback_socket.close()
    assert ServerTls.build(tier_settings) == (None, tier_settings)
    relay = settings.relay.model_copy(update={"callback_url": "http://relay-host:8080"})
    explicit = settings.model_copy(update={"relay": relay})
    kept, same = ServerTls.build(explicit)
    assert kept is not None
    assert kept.callback_socket is None
    assert same.callback_base == "http://relay-host:8080"
