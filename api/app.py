"""Wiring: `create_app(settings)` builds the FastAPI app whose lifespan owns the relay, the
segmenters and the supervisor. It imports everything; nothing imports it but the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from api.auth import Access
from api.clips import ClipService
from api.config import Settings
from api.errors import (
    BadRequest,
    ClipsBusy,
    ConfigError,
    Conflict,
    NotFound,
    OutsideBuffer,
    RelayError,
    RelayNotReady,
)
from api.events import Devices, EventService
from api.hub import Hub
from api.media import MediaFiles
from api.metrics import Metrics
from api.push.dispatcher import PushDispatcher
from api.push.notifier import build_notifier
from api.recorder import EventRecorder
from api.records import EventRecord
from api.relay import Relay
from api.retention import Retention
from api.routes import agent, cameras, devices, events, health, media, relay_hooks
from api.services import Services
from api.signing import UrlSigner
from api.store import Database, StoreError
from api.supervisor import FatalHandler, Supervisor
from segmenter import CameraSegmenter, SegmenterConfig
from segmenter.errors import ClipError

logger = logging.getLogger(__name__)


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


def create_app(settings: Settings, on_fatal: FatalHandler | None = None) -> FastAPI:
    """The server. `on_fatal` is called when a supervised loop dies (the CLI then exits)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with contextlib.AsyncExitStack() as stack:
            services = await _start(settings, on_fatal, stack)
            yield {"services": services}

    app = FastAPI(
        title="Doorbell",
        version="0.1.0",
        summary="Self-hosted smart doorbell: cameras, rolling buffer, clips, events and push.",
        lifespan=lifespan,
    )
    v1 = APIRouter(prefix="/api/v1", dependencies=[Depends(Access())])
    v1.include_router(cameras.router)
    v1.include_router(media.router)
    v1.include_router(events.router)
    v1.include_router(devices.router)
    app.include_router(v1)
    # Doorbells authenticate with their camera's device token, not with the app tokens.
    app.include_router(agent.router, prefix="/api/v1")
    app.include_router(health.router)
    app.include_router(relay_hooks.router)
    _install_error_handlers(app)
    return app


async def _start(
    settings: Settings, on_fatal: FatalHandler | None, stack: contextlib.AsyncExitStack
) -> Services:
    """Build and start everything; `stack` undoes it in reverse order at shutdown."""
    supervisor = Supervisor(on_fatal if settings.exit_on_fatal else None)
    stack.push_async_callback(supervisor.aclose)
    metrics = Metrics()
    buffers = {c.id: CameraSegmenter(segmenter_config(settings, c.id)) for c in settings.cameras}
    clips = ClipService(
        settings.clip_dir,
        settings.clip_concurrency,
        settings.clip_queue,
        settings.clip_cache_seconds,
        settings.clip_cache_max_bytes,
        on_assembled=metrics.clip_latency.observe,
    )
    signer = UrlSigner(settings.signing_key, settings.signed_url_seconds)
    await clips.start()
    stack.push_async_callback(clips.aclose)

    try:
        db = await Database.open(settings.database)
    except StoreError as exc:
        raise ConfigError(f"database_url: {exc}") from exc
    stack.push_async_callback(db.aclose)
    try:
        notifier = build_notifier(settings.push.credentials_file, settings.push.project_id)
    except ValueError as exc:
        raise ConfigError(f"push.credentials_file: {exc}") from exc
    stack.push_async_callback(notifier.aclose)
    media_files = MediaFiles(settings.media_root)
    await media_files.start()
    hub = Hub()
    device_cache = Devices(db)
    dispatcher = PushDispatcher(
        notifier,
        db.deliveries,
        device_cache,
        queue_size=settings.push.queue,
        concurrency=settings.push.concurrency,
        on_attempt=metrics.pushes.inc,
        on_first_send=metrics.push_latency.observe,
    )
    # The recorder and retention report back to the event service, which needs them built
    # (and the recorder asks `services`, built last, whether a camera publishes).
    service: list[EventService] = []

    def media_updated(record: EventRecord) -> None:
        service[0].media_updated(record)

    def deleted(ids: list[str]) -> None:
        service[0].deleted(ids)

    def camera_online(camera_id: str) -> bool:
        return services.is_online(camera_id)

    recorder = EventRecorder(
        dict(buffers),
        db.events,
        media_files,
        settings.events,
        metrics,
        media_updated,
        camera_online,
    )
    stack.push_async_callback(recorder.aclose)
    retention = Retention(db.events, media_files, settings.events, deleted)
    service.append(
        EventService(
            settings,
            db,
            media_files,
            hub,
            signer,
            metrics,
            device_cache,
            dispatcher,
            recorder,
            retention,
        )
    )
    services = Services(
        settings,
        supervisor,
        dict(buffers),
        settings.relay.enabled,
        signer,
        clips,
        db=db,
        events=service[0],
        devices=device_cache,
        media=media_files,
        hub=hub,
        recorder=recorder,
        dispatcher=dispatcher,
        metrics=metrics,
    )
    # Recover every buffer before serving, so no request sees a half-built index.
    for buffer in buffers.values():
        await buffer.recover()
    if settings.relay.enabled:
        relay = Relay(settings)
        supervisor.start("relay", relay.run, transient=(RelayError,))
        await _relay_ready(relay, supervisor, settings.relay.ready_timeout_s)
    for camera_id, buffer in buffers.items():
        supervisor.start(f"segmenter:{camera_id}", buffer.run, transient=(OSError,))
    supervisor.start("push", dispatcher.run)
    supervisor.start("retention", retention.run, transient=(OSError, StoreError))
    resumed = await recorder.recover()
    if resumed:
        logger.info("resuming the snapshots and clips of %d events", resumed)
    return services


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


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(exc)}
        if exc.allowed is not None:
            body["allowed"] = exc.allowed
        return JSONResponse(body, status_code=404)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "parameter": exc.parameter}, status_code=422)

    @app.exception_handler(OutsideBuffer)
    async def outside(request: Request, exc: OutsideBuffer) -> JSONResponse:
        available = None
        if exc.start_ms is not None:
            available = {"start_ms": exc.start_ms, "end_ms": exc.end_ms}
        return JSONResponse({"detail": str(exc), "available": available}, status_code=416)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(StoreError)
    async def store_failed(request: Request, exc: StoreError) -> JSONResponse:
        # The database is busy, full or gone: nothing was lost (the doorbell keeps the event
        # in its outbox until a 2xx), so say when to try again.
        logger.error("store failed for %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": f"the event store is unavailable, try again: {exc}"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(ClipsBusy)
    async def busy(request: Request, exc: ClipsBusy) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(ClipError)
    async def clip_failed(request: Request, exc: ClipError) -> JSONResponse:
        # The segments are ours and were whole when indexed: a failure is the server's, and
        # the next segment (a second later) is usually fine. Say so, and when to try again.
        logger.error("assembly failed for %s: %s", request.url.path, exc)
        return JSONResponse(
            {"detail": f"could not assemble this from the buffer, try again: {exc}"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
