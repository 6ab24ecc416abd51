"""HTTPS served by the server itself: the TLS context, its certificate reloaded in place when
the files change or on SIGHUP, and the loopback plain-HTTP listener the relay's callbacks use.

One `ssl.SSLContext` lives as long as the process: uvicorn hands it to every TLS listener,
and a reload calls `load_cert_chain` on that same object, so the next handshake presents the
new certificate while open connections carry on. A reload that fails (a missing or broken
file, a key that does not match) is logged once and the old certificate stays in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import signal
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.config import Settings, TlsSettings
from api.errors import ConfigError

logger = logging.getLogger(__name__)

# Forward-secret AEAD suites only for TLS 1.2 (TLS 1.3's own are all fine): Mozilla's
# "intermediate" profile, which every phone and browser of the last years speaks.
TLS12_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)

RELAY_CALLBACKS = "/internal/relay/"
FileStamp = tuple[tuple[int, int, int, int] | None, ...]


def server_context() -> ssl.SSLContext:
    """A server context without a certificate yet: TLS 1.2+, modern ciphers, ALPN http/1.1
    (uvicorn speaks HTTP/1.1 only), no session tickets (rotated keys we do not have). The
    client's cipher order wins, as Mozilla's profile says: every suite offered is strong, and
    phones put the one their hardware runs fastest (AES-128-GCM or ChaCha20) first."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.set_alpn_protocols(["http/1.1"])
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET
    context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


def _stamp(paths: tuple[Path, ...]) -> FileStamp:
    """What identifies the files' current versions: device, inode, size, mtime (ns). A
    renewal that replaces a file (rename, symlink swap) or rewrites it changes it."""
    out: list[tuple[int, int, int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            out.append(None)
        else:
            out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


@dataclass
class Certificate:
    """The server's certificate in one SSLContext, reloaded from the same files on demand."""

    cert_file: Path
    key_file: Path
    context: ssl.SSLContext = field(default_factory=server_context)
    _stamp: FileStamp = ()
    _failed: FileStamp | None = None

    def load(self) -> None:
        """Load the files into the context, or raise ConfigError naming what is wrong.

        The files are read once and tried on a scratch context first: `load_cert_chain` on the
        live context with a key that does not match would leave it with no usable key."""
        try:
            cert, key = self.cert_file.read_bytes(), self.key_file.read_bytes()
            with _in_memory(cert) as cert_path, _in_memory(key) as key_path:
                server_context().load_cert_chain(cert_path, key_path)
                stamp = _stamp((self.cert_file, self.key_file))
                self.context.load_cert_chain(cert_path, key_path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"tls: cannot use cert_file {str(self.cert_file)!r} with key_file "
                f"{str(self.key_file)!r}: {_reason(exc)}"
            ) from exc
        self._stamp = stamp

    def reload(self, why: str) -> bool:
        """Load the files again; on failure keep the certificate in use and say so once per
        version of the files. True when the new certificate is in use."""
        stamp = _stamp((self.cert_file, self.key_file))
        try:
            self.load()
        except ConfigError as exc:
            if stamp != self._failed:
                logger.error("%s; still serving the previous certificate", exc)  # noqa: TRY400
            self._failed = stamp
            return False
        self._failed = None
        logger.info("tls: certificate reloaded from %s (%s)", self.cert_file, why)
        return True

    def changed(self) -> bool:
        """Whether the files differ from the version loaded (or last tried)."""
        stamp = _stamp((self.cert_file, self.key_file))
        return stamp not in (self._stamp, self._failed)


@contextlib.contextmanager
def _in_memory(data: bytes) -> Iterator[str]:
    """A path OpenSSL can read `data` from without writing it anywhere (a memfd): the key
    never lands on a disk, and both contexts read the same bytes."""
    fd = os.memfd_create("doorbell-tls", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        if "KEY_VALUES_MISMATCH" in str(exc):
            return "the private key does not belong to the certificate"
        return f"not a usable PEM certificate and key ({exc.reason or exc})"
    return exc.strerror or str(exc)


@dataclass
class ServerTls:
    """What `doorbell serve` adds for HTTPS: the certificate, its watcher, and a plain-HTTP
    socket on loopback for the relay's callbacks (nginx-rtmp speaks only HTTP)."""

    certificate: Certificate
    settings: TlsSettings
    callback_socket: socket.socket | None  # None: relay.callback_url says where instead

    @classmethod
    def build(cls, settings: Settings) -> tuple[ServerTls | None, Settings]:
        """The TLS parts for `settings` (None without [tls]) and the settings to run with:
        with TLS and no explicit relay.callback_url, the relay calls back on a loopback
        plain-HTTP port of this process. Raises ConfigError on an unusable certificate."""
        tls = settings.tls
        if tls.cert_file is None or tls.key_file is None:
            return None, settings
        certificate = Certificate(tls.cert_file, tls.key_file)
        certificate.load()
        if settings.relay.callback_url:
            return cls(certificate, tls, None), settings
        sock = socket.create_server(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        relay = settings.relay.model_copy(update={"callback_url": url})
        return cls(certificate, tls, sock), settings.model_copy(update={"relay": relay})

    def context_factory(
        self, _config: object, _default: Callable[[], ssl.SSLContext]
    ) -> ssl.SSLContext:
        """uvicorn's `ssl_context_factory`: always this one context (so reloads reach it)."""
        return self.certificate.context

    async def serve(self, server: uvicorn.Server, serve: Coroutine[Any, Any, None]) -> None:
        """Run uvicorn's `serve` with the certificate watched (files polled, SIGHUP) and the
        loopback callback listener open once uvicorn has started."""
        async with contextlib.AsyncExitStack() as stack:
            stack.enter_context(self._sighup())
            await stack.enter_async_context(_background(self._watch()))
            if self.callback_socket is not None:
                callbacks = self._callbacks(server, self.callback_socket)
                await stack.enter_async_context(_background(callbacks))
            await serve

    @contextlib.contextmanager
    def _sighup(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        # uvicorn (one process) handles SIGINT and SIGTERM only: SIGHUP is ours, and without
        # a handler it would end the process.
        loop.add_signal_handler(signal.SIGHUP, self.certificate.reload, "SIGHUP")
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reload_check_s)
            if self.certificate.changed():
                # A renewal writes two files: let the second land before reading them.
                await asyncio.sleep(min(1.0, self.settings.reload_check_s))
                self.certificate.reload("the files changed")

    async def _callbacks(self, server: uvicorn.Server, sock: socket.socket) -> None:
        """Serve the relay's callbacks (and nothing else) in plain HTTP on the loopback
        socket, through uvicorn's own protocol and state, once uvicorn has started (its
        lifespan state exists then); uvicorn's shutdown closes it with its own listeners."""
        while not server.started:  # uvicorn has no event for it
            if server.should_exit:
                return
            await asyncio.sleep(0.05)
        config = copy.copy(server.config)
        config.loaded_app = RelayCallbacksOnly(server.config.loaded_app)

        def protocol() -> asyncio.Protocol:
            made: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=server.server_state, app_state=server.lifespan.state
            )
            return made

        listener = await asyncio.get_running_loop().create_server(protocol, sock=sock, backlog=64)
        server.servers.append(listener)


class RelayCallbacksOnly:
    """The app behind the loopback plain-HTTP listener: only the relay's callbacks, 404 for
    the rest (the API stays HTTPS-only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(RELAY_CALLBACKS):
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"detail": "only the relay's callbacks are served here"}, 404)
        await response(scope, receive, send)


@contextlib.asynccontextmanager
async def _background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def uvicorn_options(settings: Settings, tls: ServerTls | None) -> dict[str, Any]:
    """The uvicorn.Config arguments for HTTPS and for believing reverse proxies."""
    options: dict[str, Any] = {
        "proxy_headers": True,
        "forwarded_allow_ips": list(settings.tls.trusted_proxies),
    }
    if tls is not None:
        options["ssl_context_factory"] = tls.context_factory
    return options
