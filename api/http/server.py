"""The HTTP front of `doorbell serve`: uvicorn built with bounds per client.

What a stranger who can open TCP connections may cost is bounded here, below the app:

- a connection that has not sent a whole request head `header_timeout_s` after it opened
  (or after the first byte of its next request) is closed: silent and slow-loris clients;
  between requests uvicorn's keep-alive timeout (`keep_alive_s`) closes idle ones;
- a request head is at most `max_head_bytes` (431, closed);
- open connections are capped, in total (below the descriptor limit, with descriptors kept
  for the segmenters, the clip assemblies, the relay and the database: `connection_cap`)
  and per address. At a cap the connection idle longest makes room for the new one (one that
  never sent a request first, then the longest between requests); one with a request in
  flight is never closed. So idle floods cost no video and never starve a real request, and
  accept() never meets EMFILE;
- repeated warnings (connections shed, invalid requests, the event loop's accept errors) are
  logged once per burst (`OncePerBurst`).

Bodies are capped in the app (`api.http.bodylimit`); TLS comes in the caller's uvicorn options.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.config import HttpSettings, Settings

logger = logging.getLogger(__name__)

# Descriptors the server process needs beyond `reserve_fds`, per part that opens them:
# a segmenter's ffmpeg child (its three pipes while spawning, the segment and sidecar being
# indexed, a restart's overlap) and a clip assembly's ffmpeg child (pipes, concat list,
# output). Measured well under these figures; they are margins, not estimates.
FDS_PER_CAMERA = 16
FDS_PER_CLIP = 8
# Turns of the event loop a descriptor spends unseen by the cap (reserved_descriptors).
IN_PASSAGE = 4
# Never fewer connections than this, whatever the arithmetic says (a tiny descriptor limit
# is a misconfiguration we warn about, not a reason to serve nobody).
MIN_CONNECTIONS = 16
# Where RLIMIT_NOFILE's hard limit is unlimited, raise the soft one this far.
NOFILE_CEILING = 1 << 20

C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Descriptors:
    """RLIMIT_NOFILE before and after `raise_descriptor_limit`."""

    before: int
    soft: int
    hard: int


def raise_descriptor_limit() -> Descriptors:
    """Raise the soft RLIMIT_NOFILE to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NOFILE_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # a container's nr_open below the hard limit
            logger.warning("could not raise the descriptor limit to %d: %s", target, exc)
            target = soft
        return Descriptors(before=soft, soft=target, hard=hard)
    return Descriptors(before=soft, soft=soft, hard=hard)


def reserved_descriptors(http: HttpSettings, cameras: int, clip_slots: int) -> int:
    """Descriptors kept from HTTP clients: `reserve_fds` + FDS_PER_CAMERA per camera +
    FDS_PER_CLIP per clip assembly slot + 4 x the accept backlog: the descriptors in passage,
    which the cap does not see. The event loop accepts up to `backlog` connections a turn and
    hands them to their protocol (where the cap is applied) two turns later, and releases the
    descriptor of a connection closed to make room a turn after that."""
    per_part = FDS_PER_CAMERA * cameras + FDS_PER_CLIP * clip_slots
    return http.reserve_fds + IN_PASSAGE * http.backlog + per_part


def connection_cap(nofile: int, reserve: int, configured: int) -> int:
    """The total connection cap: `nofile - reserve` (at least MIN_CONNECTIONS), or the
    configured cap when it is lower (0: not configured)."""
    ceiling = max(nofile - reserve, MIN_CONNECTIONS)
    return ceiling if configured <= 0 else min(configured, ceiling)


class Pool(Generic[C]):
    """The open connections, by state: fresh (no request yet), idle (between requests) or
    busy (a request in flight, not in either list), and which to close to admit a new one.

    Pure bookkeeping: the caller closes what `admit` returns."""

    def __init__(self, total: int, per_address: int) -> None:
        self.total = total
        self.per_address = per_address
        self._address: dict[C, str] = {}
        self._per: dict[str, int] = {}
        # Insertion-ordered: the first key is the oldest (connected, or idle since).
        self._fresh: dict[C, None] = {}
        self._idle: dict[C, None] = {}
        self._fresh_at: dict[str, dict[C, None]] = {}
        self._idle_at: dict[str, dict[C, None]] = {}

    def __len__(self) -> int:
        return len(self._address)

    def from_address(self, address: str) -> int:
        return self._per.get(address, 0)

    def admit(self, conn: C, address: str) -> list[C]:
        """Count `conn` (fresh); what must be closed to stay within the caps, oldest idle
        first. `conn` itself is in the list when every other connection is busy."""
        self._address[conn] = address
        self._per[address] = self._per.get(address, 0) + 1
        self._fresh[conn] = None
        self._fresh_at.setdefault(address, {})[conn] = None
        shed: list[C] = []
        if self._per[address] > self.per_address:
            at = self._oldest(conn, self._fresh_at.get(address, {}), self._idle_at.get(address, {}))
            shed.append(at)
            self.drop(at)
        if len(self._address) > self.total:
            shed.append(self._oldest(conn, self._fresh, self._idle))
            self.drop(shed[-1])
        return shed

    def busy(self, conn: C) -> None:
        """`conn` has a request in flight: never closed to make room."""
        address = self._address.get(conn)
        if address is not None:
            self._unlist(conn, address)

    def idle(self, conn: C) -> None:
        """`conn` finished a request and waits for the next: closable, oldest first."""
        address = self._address.get(conn)
        if address is None:
            return
        self._unlist(conn, address)
        self._idle[conn] = None
        self._idle_at.setdefault(address, {})[conn] = None

    def drop(self, conn: C) -> None:
        """`conn` is gone (idempotent)."""
        address = self._address.pop(conn, None)
        if address is None:
            return
        self._unlist(conn, address)
        self._per[address] -= 1
        if not self._per[address]:
            del self._per[address]
            self._fresh_at.pop(address, None)
            self._idle_at.pop(address, None)

    def _unlist(self, conn: C, address: str) -> None:
        for listed in (self._fresh, self._idle):
            listed.pop(conn, None)
        for by_address in (self._fresh_at, self._idle_at):
            by_address.get(address, {}).pop(conn, None)

    @staticmethod
    def _oldest(newcomer: C, fresh: dict[C, None], idle: dict[C, None]) -> C:
        """The oldest never-used connection but the newcomer, else the one idle longest,
        else (every other one busy) the newcomer itself."""
        for conn in fresh:
            return conn if conn != newcomer else next(iter(idle), newcomer)
        return next(iter(idle), newcomer)


class OncePerBurst(logging.Filter):
    """Lets a message (by its template) through once per `window_s`; the next one let through
    says how many were held back. Bounds the log of anything a client can repeat. Only
    records within `levels` are held back (the others always pass)."""

    def __init__(
        self,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        levels: tuple[int, int] = (logging.WARNING, logging.CRITICAL),
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self.levels = levels
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.levels[0] <= record.levelno <= self.levels[1]:
            return True
        key = str(record.msg)
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.window_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.getMessage()} ({held} more like this held back)"
            record.args = ()
        return True


@dataclass(slots=True)
class Front:
    """What every connection of one server shares."""

    pool: Pool[BoundedH11]
    header_timeout_s: float
    max_head_bytes: int


HEAD_END = b"\r\n\r\n"


class BoundedH11(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and the connection caps (`Pool`)."""

    front: ClassVar[Front]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # of the request head coming in
        self._head_tail = b""  # its last bytes, for an end split across reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        shed = self.front.pool.admit(self, address)
        if shed:
            pool = self.front.pool
            logger.warning(
                "HTTP connection cap reached (%d open, cap %d; %d per address): closing the "
                "connections idle longest to admit new ones",
                len(pool),
                pool.total,
                pool.per_address,
            )
        for conn in shed:
            conn.close_idle()
        if self not in shed:
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self.front.pool.drop(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head() and self._head_too_large(data):
            self._refuse_head()
            return
        super().data_received(data)
        self._after_events()

    def _head_too_large(self, data: bytes) -> bool:
        """Whether the head coming in passes max_head_bytes with `data` (h11 only bounds
        a head that is still incomplete after a read, not one that comes whole)."""
        seen = self._head_tail + data
        end = seen.find(HEAD_END)
        if end >= 0:
            size = self._head_bytes + end + len(HEAD_END) - len(self._head_tail)
            self._head_bytes, self._head_tail = 0, b""
            return size > self.front.max_head_bytes
        self._head_bytes += len(data)
        self._head_tail = seen[-(len(HEAD_END) - 1) :]
        return self._head_bytes > self.front.max_head_bytes

    def _refuse_head(self) -> None:
        self._cancel_head_timer()
        self.front.pool.drop(self)
        body = f"request head too large: at most {self.front.max_head_bytes} bytes".encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._after_events()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:  # pragma: no cover
        raise AssertionError("the doorbell serves no WebSocket (ws='none')")

    def _unsupported_upgrade_warning(self) -> None:
        # Any client can send `Upgrade:`; nothing to warn the operator about.
        self.logger.debug("ignored an Upgrade header (no WebSocket here)")

    def close_idle(self) -> None:
        """Close this connection (it has no request in flight): made room for a new one, or
        its head did not come in time."""
        self._cancel_head_timer()
        self.front.pool.drop(self)
        if not self.transport.is_closing():
            self.transport.close()

    def _awaiting_head(self) -> bool:
        idle = self.cycle is None or self.cycle.response_complete
        return idle and self.conn.their_state is h11.IDLE

    def _after_events(self) -> None:
        if not self._awaiting_head():
            self._cancel_head_timer()
            self.front.pool.busy(self)
        elif self.timeout_keep_alive_task is not None:
            # Between requests: uvicorn's keep-alive timeout applies.
            self._cancel_head_timer()
            self.front.pool.idle(self)
        else:
            # A (next) request head is coming in: it has header_timeout_s.
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.front.header_timeout_s, self._head_late)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._awaiting_head():
            self.close_idle()


def protocol_for(front: Front) -> type[BoundedH11]:
    """A BoundedH11 bound to `front` (uvicorn builds protocols from a class)."""
    return type("DoorbellH11", (BoundedH11,), {"front": front})


def _quiet_repeats() -> None:
    # uvicorn logs each invalid request; the event loop each failed accept(): both are
    # the client's doing, so once per burst is enough.
    # uvicorn's errors (a traceback of ours) are never held back.
    warnings = (logging.WARNING, logging.WARNING)
    for name, levels in (("uvicorn.error", warnings), ("asyncio", None), (__name__, None)):
        named = logging.getLogger(name)
        if not any(isinstance(f, OncePerBurst) for f in named.filters):
            named.addFilter(OncePerBurst() if levels is None else OncePerBurst(levels=levels))


def build_server(
    app: ASGIApp, settings: Settings, options: Mapping[str, Any] | None = None
) -> uvicorn.Server:
    """The uvicorn server for `doorbell serve`: the descriptor limit raised, the caps
    computed and logged. `options`: more uvicorn.Config arguments (TLS, proxy headers:
    `api.http.tls.uvicorn_options`)."""
    http = settings.http
    limit = raise_descriptor_limit()
    reserve = reserved_descriptors(http, len(settings.cameras), settings.clip_concurrency)
    total = connection_cap(limit.soft, reserve, http.max_connections)
    if http.max_connections > total:
        logger.warning(
            "http.max_connections %d lowered to %d: the descriptor limit is %d and %d are "
            "reserved for the segmenters, clips, relay and database",
            http.max_connections,
            total,
            limit.soft,
            reserve,
        )
    logger.info(
        "descriptor limit %d (was %d, hard %d): HTTP connections capped at %d, %d per "
        "address, %d descriptors reserved",
        limit.soft,
        limit.before,
        limit.hard,
        total,
        min(http.max_connections_per_address, total),
        reserve,
    )
    _quiet_repeats()
    pool: Pool[BoundedH11] = Pool(total, http.max_connections_per_address)
    front = Front(pool, http.header_timeout_s, http.max_head_bytes)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        http=protocol_for(front),
        ws="none",
        timeout_keep_alive=http.keep_alive_s,
        h11_max_incomplete_event_size=http.max_head_bytes,
        backlog=http.backlog,
        **(options or {}),
    )
    return BoundedServer(config, handshake_timeout_s=http.header_timeout_s)


class BoundedServer(uvicorn.Server):
    """uvicorn's server with TLS handshakes bounded like request heads. asyncio hands a TLS
    connection to the protocol (where the caps and the header timeout apply) only once its
    handshake is done, and allows 60 s for that: a client that connects and never says hello
    would hold a descriptor that long. uvicorn has no option for it, so the loop's
    `create_server` gets `ssl_handshake_timeout` while uvicorn starts its listeners."""

    def __init__(self, config: uvicorn.Config, *, handshake_timeout_s: float) -> None:
        super().__init__(config)
        self.handshake_timeout_s = handshake_timeout_s

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        create_server = loop.create_server

        async def bounded(*args: Any, **kwargs: Any) -> asyncio.Server:
            if kwargs.get("ssl") is not None:
                kwargs["ssl_handshake_timeout"] = self.handshake_timeout_s
            return await create_server(*args, **kwargs)

        loop.create_server = bounded  # type: ignore[method-assign]
        try:
            await super().startup(sockets)
        finally:
            del loop.create_server  # the loop's own method again
