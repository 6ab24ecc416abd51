"""[tls] settings: both files or neither, readable PEM at load, trusted proxies as addresses,
and in `prod` no plain HTTP beyond loopback without an explicit opt-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from api.cli import main
from api.config import Settings, TlsSettings, generate_config, is_loopback, load_settings
from tests.certs import self_signed

BASE: dict[str, Any] = {
    "profile": "prod",
    "api_tokens": ["a-long-random-token-0123456789"],
    "relay_secret": "another-long-secret-0123456789",
}


@pytest.fixture
def pem(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    self_signed().write(cert, key)
    return cert, key


def refusal(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**{**BASE, **values})
    return str(caught.value)


def test_without_tls_section_the_server_is_plain_http_on_loopback() -> None:
    settings = Settings(**BASE)
    assert not settings.tls.enabled
    assert settings.host == "127.0.0.1"
    assert settings.tls.trusted_proxies == ["127.0.0.1", "::1"]
    assert settings.tls.hsts_max_age_s == 365 * 86_400
    assert not settings.tls.hsts_include_subdomains


def test_both_files_make_it_https(pem: tuple[Path, Path]) -> None:
    cert, key = pem
    settings = Settings(**BASE, host="0.0.0.0", tls=TlsSettings(cert_file=cert, key_file=key))
    assert settings.tls.enabled


@pytest.mark.parametrize(
    ("given", "missing"), [("cert_file", "key_file"), ("key_file", "cert_file")]
)
def test_one_file_without_the_other_is_refused(
    pem: tuple[Path, Path], given: str, missing: str
) -> None:
    path = pem[0] if given == "cert_file" else pem[1]
    message = refusal(tls={given: path})
    assert f"{missing} is missing" in message
    assert "needs both cert_file and key_file" in message


def test_an_unreadable_file_is_named(pem: tuple[Path, Path], tmp_path: Path) -> None:
    message = refusal(tls={"cert_file": pem[0], "key_file": tmp_path / "nope.pem"})
    assert "key_file" in message
    assert "nope.pem" in message
    assert "cannot be read" in message


def test_a_file_that_is_not_pem_is_named(pem: tuple[Path, Path], tmp_path: Path) -> None:
    der = tmp_path / "cert.der"
    der.write_bytes(b"\x30\x82\x01\x0a")
    message = refusal(tls={"cert_file": der, "key_file": pem[1]})
    assert "cert_file" in message
    assert "is not PEM" in message


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = Settings(
        **BASE, tls=TlsSettings(trusted_proxies=["172.28.0.9/16", "::1", "10.0.0.2"])
    )
    assert settings.tls.trusted_proxies == ["172.28.0.0/16", "::1", "10.0.0.2"]
    assert "'proxy.lan' is not an IP address or CIDR" in refusal(
        tls={"trusted_proxies": ["proxy.lan"]}
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "doorbell.lan", ""])
def test_prod_refuses_plain_http_beyond_loopback(host: str) -> None:
    message = refusal(host=host)
    assert f"host {host!r} reaches beyond this machine without HTTPS" in message
    assert "[tls] cert_file and key_file" in message
    assert "allow_plain_http = true" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_prod_allows_plain_http_on_loopback(host: str) -> None:
    assert is_loopback(host)
    assert Settings(**BASE, host=host).host == host


def test_prod_allows_plain_http_beyond_loopback_when_opted_in() -> None:
    tls = TlsSettings(allow_plain_http=True, trusted_proxies=["192.168.1.2"])
    settings = Settings(**BASE, host="0.0.0.0", tls=tls)
    assert settings.tls.allow_plain_http
    assert not settings.tls.enabled


def test_dev_is_unchanged() -> None:
    assert Settings(**{**BASE, "profile": "dev"}, host="0.0.0.0").host == "0.0.0.0"


def test_serve_refuses_plain_http_beyond_loopback_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "doorbell.toml"
    config.write_text(
        'profile = "prod"\napi_tokens = ["a-long-random-token-0123456789"]\n'
        'relay_secret = "another-long-secret-0123456789"\n'
    )
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--config", str(config), "--host", "0.0.0.0"])
    assert exited.value.code == 2
    assert "reaches beyond this machine without HTTPS" in capsys.readouterr().err


def test_serve_refuses_a_key_that_does_not_match(
    pem: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other-key.pem"
    other.write_bytes(self_signed().key_pem)
    config = tmp_path / "doorbell.toml"
    config.write_text(
        'profile = "prod"\napi_tokens = ["a-long-random-token-0123456789"]\n'
        'relay_secret = "another-long-secret-0123456789"\n'
        f'[tls]\ncert_file = "{pem[0]}"\nkey_file = "{other}"\n'
    )
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "the private key does not belong to the certificate" in err
    assert str(other) in err


def test_the_generated_config_shows_tls_and_loads_with_it_uncommented(
    pem: tuple[Path, Path], tmp_path: Path
) -> None:
    text = generate_config([("front", "Front door")], profile="prod")
    assert "# [tls]" in text
    enabled = (
        text.replace("# [tls]", "[tls]")
        .replace('# cert_file = "/etc/doorbell/tls/fullchain.pem"', f'cert_file = "{pem[0]}"')
        .replace('# key_file = "/etc/doorbell/tls/privkey.pem"', f'key_file = "{pem[1]}"')
    )
    config = tmp_path / "doorbell.toml"
    config.write_text(enabled)
    settings = load_settings(config, host="0.0.0.0")
    assert settings.tls.cert_file == pem[0]
    assert settings.tls.enabled
