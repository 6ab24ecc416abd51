"""Test certificates made with the openssl command: a CA, and a server certificate it signs
for 127.0.0.1 and localhost."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_binary


@dataclass(frozen=True, slots=True)
class Pem:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    result = subprocess.run(
        [require_binary("openssl"), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"openssl {args[0]}: {result.stderr}"


def make_ca(directory: Path, name: str) -> Pem:
    """A self-signed CA named `name` (valid two days)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = Pem(directory / f"{name}-ca.pem", directory / f"{name}-ca.key")
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "2", "-subj", f"/CN={name} test CA", "-keyout", str(ca.key), "-out", str(ca.cert),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
    )  # fmt: skip
    return ca


def make_server_cert(ca: Pem, directory: Path, name: str = "relay") -> Pem:
    """A server certificate for 127.0.0.1 and localhost, signed by `ca`."""
    pem = Pem(directory / f"{name}.pem", directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    ext = directory / f"{name}.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=localhost", "-keyout", str(pem.key), "-out", str(csr),
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(pem.cert),
    )  # fmt: skip
    return pem
