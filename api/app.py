"""Wiring: `create_app(settings)` builds the FastAPI app whose lifespan builds, in one order
read top to bottom, everything a running server owns, and undoes it in reverse at shutdown.
It imports everything (the segmenter included); nothing imports it but the CLI and tests."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from fastapi import APIRouter, Depends, FastAPI

from api.accounts.limiter import AuthThrottle, SignInLimiter, SlowDown
from api.accounts.passwords import Passwords
from api.accounts.sessions import Sessions
from api.accounts.tokens import ApiTokens
from api.accounts.users import Users
from api.config import Settings
from api.errors import ConfigError, RelayError, RelayNotReady
from api.events.devices import Devices
from api.events.files import MediaFiles
from api.events.history import EventHistory
from api.events.hub import Hub
from api.events.ingest import EventIngest
from api.events.notifications import Notifications
from api.events.recorder import EventRecorder
from api.events.retention import Retention
from api.http import handlers, webapp
from api.http.bodylimit import BodyLimit
from api.http.deps import AppState, get_principal
from api.http.hsts import HstsMiddleware, hsts_value
from api.http.routes import (
    agent,
    cameras,
    devices,
    events,
    health,
    push,
    relay_hooks,
    session,
    tokens,
    video,
    webrtc,
)
from api.http.security import SecurityHeaders
from api.http.signing import UrlSigner
from api.metrics import Metrics, Sample, SeriesKind
from api.push.dispatcher import PushDispatcher
from api.push.fcm import build_fcm_notifier
from api.push.notifier import LoggingNotifier, Notifier, RoutingNotifier
from api.push.vapid import VapidSigner, load_or_create_key
from api.push.webpush import WebPushNotifier
from api.relay.presence import Presence
from api.relay.process import Relay
from api.state import StateClaim, claim_state
from api.store import Database, StoreError
from api.supervisor import FatalHandler, Supervisor
from api.video.clips import ClipService
from api.video.ports import BufferStats, SupervisedBuffer
from api.video.webrtc import LiveView, WorkerExited
from common.clock import Clock, wall_ms
from segmenter import CameraSegmenter, SegmenterConfig
from segmenter.errors import ClipError

logger = logging.getLogger(__name__)

Buffers = Mapping[str, SupervisedBuffer[Any]]


def create_app(
    settings: Settings,
    *,
    on_fatal: FatalHandler | None = None,
    buffers: Buffers | None = None,
    notifier: Notifier | None = None,
    accounts: AccountOptions | None = None,
    state: StateClaim | None = None,
) -> FastAPI:
    """The server. `on_fatal` is called when a supervised loop dies (the CLI then exits).
    `buffers` (one per configured camera) and `notifier` replace the segmenters and the
    push channels (FCM and Web Push, routed by device) built from the settings: tests hand in
    fakes held to the same protocols. `accounts`: the clock and password hashing of sign-ins
    (tests: a fake clock, cheap argon2 parameters). `state`: the claim on the state
    directories (`api.state`) when the caller took it; else the lifespan takes it first."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        async with contextlib.AsyncExitStack() as stack:
            if state is None:
                claim = await asyncio.to_thread(claim_state, settings)
                stack.callback(claim.release)
            yield await _start(
                settings, stack, on_fatal, buffers, notifier, accounts or AccountOptions()
            )

    app = FastAPI(
        title="Doorbell",
        version=importlib.metadata.version("doorbell"),
        summary="Self-hosted smart doorbell: cameras, rolling buffer, clips, events and push.",
        lifespan=lifespan,
        docs_url=None,  # served from this server's own files (webapp.py), not a CDN
        redoc_url=None,
    )
    v1 = APIRouter(
        prefix="/api/v1",
        dependencies=[Depends(get_principal)],
        responses=handlers.error_responses(
            401,
            403,
            413,
            429,
            503,
            _403="a signed URL that is expired or not valid for this path, a missing or "
            "wrong X-CSRF-Token with the session cookie, or no user where one is needed",
            # Below every route: the body cap (http.max_body_bytes) and the slow-down of an
            # address after failed authentications (auth_throttle), checked before anything.
            _413="the request body is larger than http.max_body_bytes (refused before it is read)",
            _429="too many failed authentications from this address: wait Retry-After",
            # Users' API tokens and sessions are looked up in the store, on every route.
            _503="the event store is unavailable (Retry-After); a route may say more",
        ),
    )
    for module in (cameras, video, webrtc, events, devices, push, session, tokens):
        v1.include_router(module.router)
    v1.include_router(webrtc.config)
    app.include_router(v1)
    # Signing in needs no credentials.
    app.include_router(session.public, prefix="/api/v1")
    # Doorbells authenticate with their camera's device token, not with the app tokens.
    app.include_router(agent.router, prefix="/api/v1")
    app.include_router(health.router)
    app.include_router(relay_hooks.router)
    webapp.mount(app, settings.app_dir)  # last: it answers every other GET with the app
    handlers.install(app, assembly_errors=(ClipError,))
    # Outside every route: no body beyond the limit is read, whoever sends it (the headers
    # below, added after, wrap its 413 too).
    app.add_middleware(BodyLimit, limit=settings.http.max_body_bytes)
    app.add_middleware(SecurityHeaders, script_csp=webapp.APP_CSP)
    hsts = hsts_value(settings.tls)
    if hsts is not None:
        app.add_middleware(HstsMiddleware, value=hsts)
    return app


def segmenter_config(settings: Settings, camera_id: str) -> SegmenterConfig:
    return SegmenterConfig(
        camera=camera_id,
        source_url=f"{settings.pull_base}/{camera_id}",
        directory=settings.buffer_dir / camera_id,
        buffer_ms=settings.buffer_seconds * 1000,
        max_bytes=settings.buffer_max_bytes,
        stall_timeout_s=settings.stall_seconds,
        ffmpeg=settings.ffmpeg,
    )


@dataclass(frozen=True, slots=True)
class AccountOptions:
    """What tests replace in the accounts: the clock (sessions, tokens, the sign-in
    slow-down) and the argon2 parameters (None: argon2-cffi's defaults)."""

    clock: Clock = wall_ms  # also the clock of the failed-authentication throttle
    hasher: PasswordHasher | None = None


@dataclass(frozen=True, slots=True)
class AccountParts:
    sessions: Sessions
    tokens: ApiTokens
    throttle: AuthThrottle


@dataclass(frozen=True, slots=True)
class EventParts:
    """The event domain as built by `_build_events`."""

    hub: Hub
    devices: Devices
    dispatcher: PushDispatcher
    recorder: EventRecorder
    retention: Retention
    ingest: EventIngest
    history: EventHistory


async def _start(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    on_fatal: FatalHandler | None,
    buffers: Buffers | None,
    notifier: Notifier | None,
    accounts: AccountOptions,
) -> AppState:
    """Build and start everything; `stack` undoes it in reverse order at shutdown."""
    supervisor = Supervisor(on_fatal if settings.exit_on_fatal else None)
    metrics = Metrics()
    if buffers is None:
        buffers = {
            c.id: CameraSegmenter(segmenter_config(settings, c.id)) for c in settings.cameras
        }
    presence = Presence(buffers)
    clips = ClipService(
        settings.clip_dir,
        settings.clip_concurrency,
        settings.clip_queue,
        settings.clip_cache_seconds,
        settings.clip_cache_max_bytes,
        on_assembled=metrics.clip_latency.observe,
    )
    await clips.start()
    stack.push_async_callback(clips.aclose)
    signer = UrlSigner(settings.signing_key, settings.signed_url_seconds)
    db = await _open_store(settings, stack)
    vapid = await _vapid(settings)
    people = _build_accounts(settings, db, accounts)
    if notifier is None:
        notifier = _notifier(settings, vapid)
    stack.push_async_callback(notifier.aclose)
    parts = await _build_events(settings, db, buffers, presence, signer, notifier, metrics)
    stack.push_async_callback(parts.recorder.aclose)
    live_view = LiveView(
        settings.webrtc,
        settings.pull_base,
        lambda: [camera for camera in buffers if presence.is_online(camera)],
    )
    _sample(metrics, supervisor, buffers, presence, clips, parts)
    _sample_live_view(metrics, live_view)
    # Closed first at shutdown: the loops stop before what they use (the database) closes.
    stack.push_async_callback(supervisor.aclose)
    await _start_loops(settings, supervisor, buffers, parts, presence)
    if settings.webrtc.enabled:
        supervisor.start("webrtc", live_view.run, transient=(WorkerExited, OSError))
    return AppState(
        settings=settings,
        supervisor=supervisor,
        metrics=metrics,
        buffers=buffers,
        presence=presence,
        clips=clips,
        signer=signer,
        hub=parts.hub,
        ingest=parts.ingest,
        history=parts.history,
        devices=parts.devices,
        web_push_key=None if vapid is None else vapid.public_key,
        sessions=people.sessions,
        tokens=people.tokens,
        throttle=people.throttle,
        live_view=live_view,
    )


async def _open_store(settings: Settings, stack: contextlib.AsyncExitStack) -> Database:
    try:
        db = await Database.open(settings.database)
    except StoreError as exc:
        raise ConfigError(f"database_url: {exc}") from exc
    stack.push_async_callback(db.aclose)
    return db


def _build_accounts(settings: Settings, db: Database, options: AccountOptions) -> AccountParts:
    users = Users(db.users, db.sessions, Passwords(options.hasher), options.clock)
    sessions = Sessions(
        users,
        db.sessions,
        SignInLimiter(clock=options.clock),
        idle_days=settings.accounts.session_idle_days,
        max_days=settings.accounts.session_max_days,
        clock=options.clock,
    )
    limits = settings.auth_throttle
    throttle = AuthThrottle(
        SlowDown(
            limit=limits.failures,
            window_s=limits.forget_after_s,
            base_s=limits.first_wait_s,
            cap_s=limits.max_wait_s,
            max_keys=limits.max_addresses,
        ),
        clock=options.clock,
    )
    return AccountParts(sessions, ApiTokens(db.tokens, options.clock), throttle)


async def _vapid(settings: Settings) -> VapidSigner | None:
    """The server's Web Push identity (its key made on first start), or None when Web Push
    is turned off."""
    if not settings.push.web_push:
        return None
    key = await asyncio.to_thread(load_or_create_key, settings.vapid_key_file)
    subject = settings.web_push_subject
    if subject.endswith("@localhost"):
        logger.warning(
            "Web Push: the VAPID contact is %s (no public https URL to derive one from); "
            "push services may refuse it: set push.web_push_subject",
            subject,
        )
    return VapidSigner(key, subject)


def _notifier(settings: Settings, vapid: VapidSigner | None) -> Notifier:
    """One notifier per channel behind the routing one: FCM (or the logging stand-in without
    credentials) and Web Push (or the stand-in when it is turned off)."""
    try:
        fcm = build_fcm_notifier(settings.push.credentials_file, settings.push.project_id)
    except ValueError as exc:
        raise ConfigError(f"push.credentials_file: {exc}") from exc
    web: Notifier = (
        LoggingNotifier("Web Push is turned off") if vapid is None else WebPushNotifier(vapid)
    )
    return RoutingNotifier({"fcm": fcm, "web_push": web})


async def _build_events(
    settings: Settings,
    db: Database,
    buffers: Buffers,
    presence: Presence,
    signer: UrlSigner,
    notifier: Notifier,
    metrics: Metrics,
) -> EventParts:
    """The event domain, each part built after what it reports to: no cycle."""
    files = MediaFiles(settings.media_root)
    await files.start()
    hub = Hub()
    devices = Devices(db.devices)
    dispatcher = PushDispatcher(
        notifier,
        db.deliveries,
        devices,
        queue_size=settings.push.queue,
        concurrency=settings.push.concurrency,
        on_attempt=metrics.pushes.inc,
        on_first_send=metrics.push_latency.observe,
    )
    notifications = Notifications(
        hub,
        devices,
        dispatcher,
        push=settings.push,
        camera_name=settings.camera_name,
        signer=signer,
        public_base=settings.public_base,
        metrics=metrics,
    )
    retention = Retention(db.events, files, settings.events, on_deleted=notifications.deleted)
    recorder = EventRecorder(
        dict(buffers),
        db.events,
        files,
        settings.events,
        metrics,
        on_update=notifications.media_updated,
        on_clip_saved=retention.kick,
        camera_online=presence.is_online,
    )
    ingest = EventIngest(db.events, notifications, recorder, metrics)
    history = EventHistory(
        db.events,
        db.deliveries,
        files,
        notifications,
        recorder,
        media_wait_s=settings.events.media_wait_s,
        clip_retry_s=int(settings.events.post_roll_s) + 2,
    )
    return EventParts(hub, devices, dispatcher, recorder, retention, ingest, history)


def _sample(
    metrics: Metrics,
    supervisor: Supervisor,
    buffers: Buffers,
    presence: Presence,
    clips: ClipService,
    parts: EventParts,
) -> None:
    """Series read at each scrape from the objects that own the state."""

    def per_camera(value: Callable[[str, BufferStats], int | float]) -> Callable[[], list[Sample]]:
        return lambda: [((c,), value(c, b.stats())) for c, b in buffers.items()]

    def clip_stat(key: str) -> Callable[[], list[Sample]]:
        return lambda: [((), clips.stats()[key])]

    camera = ("camera",)
    buffer_series: tuple[tuple[str, str, Callable[[], list[Sample]], SeriesKind], ...] = (
        ("doorbell_buffer_seconds", "Seconds of video in the rolling buffer.",
         per_camera(lambda _c, s: float(s.seconds)), "gauge"),
        ("doorbell_buffer_bytes", "Bytes of video in the rolling buffer.",
         per_camera(lambda _c, s: s.bytes), "gauge"),
        ("doorbell_segmenter_restarts_total", "ffmpeg sessions that ended and were restarted.",
         per_camera(lambda _c, s: s.restarts), "counter"),
        ("doorbell_camera_online", "1 while the camera publishes.",
         per_camera(lambda c, _s: int(presence.is_online(c))), "gauge"),
    )  # fmt: skip
    for name, text, read, kind in buffer_series:
        metrics.sample(name, text, read, labels=camera, kind=kind)
    metrics.sample(
        "doorbell_loop_up",
        "1 unless the supervised loop died.",
        lambda: [((h.name,), int(h.state != "dead")) for h in supervisor.health()],
        labels=("loop",),
    )
    clip_series: tuple[tuple[str, str, str, SeriesKind], ...] = (
        ("assemblies", "doorbell_clip_assemblies_total",
         "Clip assemblies (not cache hits or shared waits).", "counter"),
        ("running", "doorbell_clip_running", "Clip assemblies running now.", "gauge"),
        ("peak_running", "doorbell_clip_running_peak",
         "Most clip assemblies ever running at once.", "gauge"),
        ("waiting", "doorbell_clip_waiting", "Clip requests waiting for an assembly slot.",
         "gauge"),
    )  # fmt: skip
    for key, name, text, kind in clip_series:
        metrics.sample(name, text, clip_stat(key), kind=kind)
    metrics.sample(
        "doorbell_event_recordings",
        "Event snapshots and clips being made now.",
        lambda: [((), parts.recorder.active)],
    )
    metrics.sample(
        "doorbell_push_queue",
        "Push jobs waiting or being sent.",
        lambda: [((k,), v) for k, v in sorted(parts.dispatcher.stats().items())],
        labels=("state",),
    )


def _sample_live_view(metrics: Metrics, live_view: LiveView) -> None:
    metrics.sample(
        "doorbell_webrtc_viewers",
        "WebRTC live view sessions (answered or being answered), by camera.",
        lambda: [((c,), n) for c, n in sorted(live_view.viewers().items())],
        labels=("camera",),
    )
    metrics.sample(
        "doorbell_webrtc_pulls",
        "Cameras the WebRTC media worker pulls from the relay (one pull per camera).",
        lambda: [((), len(live_view.pulls()))],
    )
    metrics.sample(
        "doorbell_webrtc_sessions_total",
        "WebRTC offers and sessions by result: answered, connected, closed, refusals, and how "
        "they ended.",
        lambda: [((k,), v) for k, v in sorted(live_view.results.items())],
        labels=("result",),
        kind="counter",
    )


async def _start_loops(
    settings: Settings,
    supervisor: Supervisor,
    buffers: Buffers,
    parts: EventParts,
    presence: Presence,
) -> None:
    """Recover every buffer before serving (no request sees a half-built index), then start
    the relay (and wait until it accepts), the segmenters, push, retention and the media of
    events that were pending when the server stopped."""
    for buffer in buffers.values():
        await buffer.recover()
    if settings.relay.enabled:
        relay = Relay(settings, on_exit=presence.relay_exited)
        supervisor.start("relay", relay.run, transient=(RelayError,))
        await _relay_ready(relay, supervisor, settings.relay.ready_timeout_s)
    for camera_id, buffer in buffers.items():
        supervisor.start(f"segmenter:{camera_id}", buffer.run, transient=(OSError,))
    supervisor.start("push", parts.dispatcher.run)
    supervisor.start("retention", parts.retention.run, transient=(OSError, StoreError))
    resumed = await parts.recorder.recover()
    if resumed:
        logger.info("resuming the snapshots and clips of %d events", resumed)


async def _relay_ready(relay: Relay, supervisor: Supervisor, timeout_s: float) -> None:
    """Handshake: return once nginx accepts RTMP; fail start-up if its first start fails."""
    ready = asyncio.ensure_future(relay.ready.wait())
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s + 1
        while not ready.done():
            health = next(h for h in supervisor.health() if h.name == "relay")
            if health.state in {"backoff", "dead"}:
                raise RelayNotReady(f"relay failed to start: {health.last_error}")
            if asyncio.get_running_loop().time() > deadline:
                raise RelayNotReady(f"relay not ready after {timeout_s:g}s")
            await asyncio.wait({ready}, timeout=0.05)
    finally:
        ready.cancel()
