"""TLS cost: the 900-s clip downloaded over HTTPS and over plain HTTP, same build, same run.

Two `doorbell serve` processes from this checkout, each on its own copy of the same synthetic
buffer (benchmark 3's: one-second segments, 640x480, 25 fps, 1.5 Mbit/s CBR, in
/dev/shm): one plain HTTP, one with `[tls]` (an ECDSA P-256 certificate made here by openssl,
as Let's Encrypt and Caddy issue by default); and Caddy (infra/caddy/Caddyfile, with that
certificate) in front of the plain one, the other deployment docs/deploy.md describes. curl
downloads the 900-s clip, as an MP4 (assembled, then sent) and as fragmented MP4 (streamed
while assembled), from each in turn, rotating which goes first, each repeat a new
range (no clip cache); a new connection per download, so the TLS handshake is included;
curl offers the TLS 1.3 suites in a phone browser's order (AES-128-GCM first).
Medians of the total and of its parts; each total over plain HTTP's, as a ratio of medians and
as the median of each repeat's ratio (its downloads run back to back, so the machine's drift
cancels). Goal: at most 1.20. Also the CPU time each download cost the server (with Caddy:
server and Caddy) and curl, which the machine's load does not inflate.

    .venv/bin/python bench/tls_cost.py            # 7 repeats (~1 minute after encoding)
    .venv/bin/python bench/tls_cost.py --quick    # 2 repeats
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import cpu_seconds, free_port, machine, markdown_table, wait_until
from clip_latency import CAMERA, CURL, build_buffer
from streams_per_host import Server

CLIP_S = 900
FORMATS = ("mp4", "fmp4")  # assembled, then sent; streamed while assembled
OPENSSL = shutil.which("openssl") or "openssl"
CADDY = shutil.which("caddy") or "caddy"
CADDYFILE = Path(__file__).resolve().parent.parent / "infra" / "caddy" / "Caddyfile"
SITE = "{$DOORBELL_DOMAIN:localhost} {"
# TLS 1.3 suites in the order Chrome and Safari offer them (the server takes the client's).
BROWSER_TLS13 = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
PLAIN, OWN_TLS, VIA_CADDY = "plain HTTP", "HTTPS, the server's [tls]", "HTTPS, Caddy in front"


@dataclass
class Download:
    handshake_s: float  # connect to TLS done (0 for plain HTTP)
    ttfb_s: float
    total_s: float
    size: int
    server_cpu_s: float = 0.0  # the server's (and Caddy's) CPU during the download
    client_cpu_s: float = 0.0  # curl's


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_s(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


class Served:
    """One server: plain, or with [tls] and the client trusting its certificate; or, with
    `base`, reached through a proxy at that URL."""

    def __init__(
        self,
        server: Server,
        cert: tuple[Path, Path] | None,
        own_tls: bool,
        base: str = "",
        proxy_pid: int | None = None,
    ) -> None:
        self.server = server
        self.proxy_pid = proxy_pid
        self.cacert = cert[0] if cert else None
        if own_tls and cert is not None:
            with self.server.config.open("a", encoding="utf-8") as config:
                config.write(f'\n[tls]\ncert_file = "{cert[0]}"\nkey_file = "{cert[1]}"\n')
        scheme = "https" if own_tls else "http"
        self.base = base or f"{scheme}://127.0.0.1:{self.server.http_port}"

    def healthy(self) -> bool:
        self.server.check_alive()
        context = ssl.create_default_context(cafile=str(self.cacert)) if self.cacert else None
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=5, context=context) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def download(self, start_ms: int, end_ms: int, fmt: str) -> Download:
        argv = [CURL, "-sS", "--fail", "-o", "/dev/null", "-w",
                "%{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total} "
                "%{size_download}",
                "-H", f"Authorization: Bearer {self.server.token}"]  # fmt: skip
        if self.cacert:
            argv += ["--cacert", str(self.cacert), "--tls13-ciphers", BROWSER_TLS13]
        url = f"{self.base}/api/v1/cameras/{CAMERA}/clip?start={start_ms}&end={end_ms}&format={fmt}"
        pids = [self.server.pid] + ([self.proxy_pid] if self.proxy_pid else [])
        server_cpu, client_cpu = _cpu_s(pids), _children_cpu_s()
        out = subprocess.run(
            [*argv, url], capture_output=True, text=True, check=True, timeout=600
        ).stdout.split()
        server_cpu, client_cpu = _cpu_s(pids) - server_cpu, _children_cpu_s() - client_cpu
        connect, tls_done, ttfb, total = (float(x) for x in out[:4])
        handshake = max(0.0, tls_done - connect) if self.cacert else 0.0
        return Download(handshake, ttfb, total, int(out[4]), server_cpu, client_cpu)


def start_caddy(
    work: Path, cert: tuple[Path, Path], upstream: int
) -> tuple[subprocess.Popen[bytes], str]:
    """The shipped Caddyfile with the benchmark's certificate, on a free port."""
    port = free_port()
    text = CADDYFILE.read_text(encoding="utf-8")
    if text.count(SITE) != 1:
        raise RuntimeError(f"{CADDYFILE}: expected one site block {SITE!r}")
    text = text.replace(SITE, f"{SITE}\n\ttls {cert[0]} {cert[1]}")
    config = work / "Caddyfile"
    config.write_text(
        f"{{\n\tadmin off\n\tskip_install_trust\n\thttp_port {free_port()}\n"
        f"\tstorage file_system {work / 'caddy-data'}\n}}\n\n{text}"
    )
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(work), "XDG_DATA_HOME": str(work),
        "XDG_CONFIG_HOME": str(work), "DOORBELL_DOMAIN": f"https://127.0.0.1:{port}",
        "DOORBELL_UPSTREAM": f"127.0.0.1:{upstream}",
    }  # fmt: skip
    with (work / "caddy.log").open("wb") as log:
        proc = subprocess.Popen(
            [CADDY, "run", "--config", str(config), "--adapter", "caddyfile"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
        )  # fmt: skip
    return proc, f"https://127.0.0.1:{port}"


Results = dict[tuple[str, str], list[Download]]


def measure(repeats: int) -> Results:
    results: Results = {(f, v): [] for f in FORMATS for v in (PLAIN, OWN_TLS, VIA_CADDY)}
    with tempfile.TemporaryDirectory(prefix="doorbell-bench-tls-", dir="/dev/shm") as shm, \
            tempfile.TemporaryDirectory(prefix="doorbell-bench-tls-") as work:  # fmt: skip
        shm_dir, work_dir = Path(shm), Path(work)
        # Plain HTTP and Caddy reach the same server: each (format, way) has its own ranges,
        # so that none is answered from another's clip cache.
        seconds = CLIP_S + 2 * len(FORMATS) * repeats
        print(f"bench: encoding {seconds} s of video...", file=sys.stderr)
        rows, _ = build_buffer(shm_dir / "plain" / CAMERA, seconds)
        shutil.copytree(shm_dir / "plain", shm_dir / "tls")
        for name in ("plain", "tls"):
            (work_dir / name).mkdir()
        cert = make_certificate(work_dir)
        keys = {CAMERA: "bench-stream-key-0123456789"}
        plain = Server(work_dir / "plain", shm_dir / "plain", keys, 3600)
        own = Server(work_dir / "tls", shm_dir / "tls", keys, 3600)
        caddy, caddy_base = start_caddy(work_dir, cert, plain.http_port)
        servers = {
            PLAIN: Served(plain, None, own_tls=False),
            OWN_TLS: Served(own, cert, own_tls=True),
            VIA_CADDY: Served(plain, cert, own_tls=False, base=caddy_base, proxy_pid=caddy.pid),
        }
        try:
            plain.start()
            own.start()
            for name, served in servers.items():
                wait_until(f"the {name} server", served.healthy, 60, 0.2)
            names = list(servers)
            for repeat in range(repeats):
                shift = repeat % len(names)
                for f, fmt in enumerate(FORMATS):
                    for name in names[shift:] + names[:shift]:
                        at = repeat + repeats * (2 * f + (name == VIA_CADDY))
                        first, last = rows[at], rows[at + CLIP_S - 1]
                        start_ms, end_ms = int(str(first["start_ms"])), int(str(last["end_ms"]))
                        got = servers[name].download(start_ms, end_ms, fmt)
                        results[(fmt, name)].append(got)
                        print(f"bench: {fmt}, {name}: {got}", file=sys.stderr)
                print(f"bench: repeat {repeat + 1}/{repeats}", file=sys.stderr)
        finally:
            caddy.terminate()
            caddy.wait(20)
            for server in (plain, own):
                if server.proc is not None:
                    server.proc.terminate()
                    server.proc.wait(20)
    return results


def markdown(results: Results) -> str:
    table = []
    for (fmt, name), downloads in results.items():
        plain = results[(fmt, PLAIN)]
        total = statistics.median(d.total_s for d in downloads)
        # Each repeat's downloads run back to back: their ratio cancels the machine's drift.
        paired = statistics.median(
            d.total_s / p.total_s for d, p in zip(downloads, plain, strict=True)
        )
        mb = statistics.median(d.size for d in downloads) / 1e6
        table.append([
            f"{CLIP_S} s {fmt}", name, str(len(downloads)),
            f"{statistics.median(d.handshake_s for d in downloads) * 1000:.1f} ms",
            f"{statistics.median(d.ttfb_s for d in downloads) * 1000:.0f} ms",
            f"{statistics.median(d.total_s - d.ttfb_s for d in downloads) * 1000:.0f} ms",
            f"{total * 1000:.0f} ms", f"{mb / total:.0f}", f"{mb:.1f}",
            f"{statistics.median(d.server_cpu_s for d in downloads) * 1000:.0f} ms",
            f"{statistics.median(d.client_cpu_s for d in downloads) * 1000:.0f} ms",
            f"{total / statistics.median(p.total_s for p in plain):.2f}", f"{paired:.2f}",
        ])  # fmt: skip
    return markdown_table(
        ["clip", "served", "downloads", "TLS handshake (median)", "first byte (median)",
         "first to last byte (median)", "total (median)", "MB/s", "MB",
         "server CPU (median)", "client CPU (median)",
         "median total / plain's", "median of each repeat's total / plain's"],
        table,
    )  # fmt: skip


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 repeats")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = measure(2 if args.quick else args.repeats)
    print(markdown_table(["", ""], [[k, v] for k, v in machine().items()]))
    print()
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
