"""nginx-rtmp's on_publish / on_publish_done callbacks: stream-key check, online state.

Not under /api/v1 and without a bearer token (nginx cannot send one): the callback URL
carries the relay secret instead, and the key itself is what is being checked. The secret is
checked before the body is read; a wrong one counts against the caller's address
(`AuthThrottle`), and a waiting address is refused (429) before anything is checked.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response, status

from api.errors import Forbidden
from api.http.auth import client_address, matches_any
from api.http.deps import PresenceDep, SettingsDep, ThrottleDep

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/internal/relay", include_in_schema=False)

MAX_BODY = 8192


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_BODY:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _check_secret(request: Request, settings: SettingsDep, throttle: ThrottleDep) -> None:
    """Forbidden for a wrong relay secret (counted against the address); TooManyFailures
    first while the address must wait."""
    address = client_address(request)
    throttle.check(address)
    given = request.query_params.get("secret", "")
    if not matches_any(given, [settings.relay_secret.get_secret_value()]):
        throttle.failed(address, "relay secret")
        # Logged once per burst by the throttle, not per request.
        logger.debug("relay callback with a wrong secret from %s", address)
        raise Forbidden("wrong relay secret")


@router.post("/on_publish")
async def on_publish(
    request: Request, settings: SettingsDep, presence: PresenceDep, throttle: ThrottleDep
) -> Response:
    _check_secret(request, settings, throttle)
    form = await _form(request)
    name, addr = form.get("name", ""), form.get("addr", "?")
    camera = settings.camera(name)
    key = form.get("key", "")
    if form.get("app") != "live" or camera is None:
        logger.warning("publish refused: unknown stream %r from %s", name, addr)
        raise Forbidden(f"unknown stream {name!r}")
    if not matches_any(key, [camera.stream_key.get_secret_value()]):
        logger.warning("publish refused: wrong stream key for %s from %s", name, addr)
        raise Forbidden(f"wrong stream key for {name!r}")
    live = presence.live_publisher(name)
    if live is not None:
        # nginx-rtmp would refuse it too ("already publishing"), but only after this answer,
        # and its on_publish_done would then look like the live publisher leaving.
        logger.warning(
            "publish refused: %s is already publishing from %s; second publisher from %s",
            name,
            live.addr,
            addr,
        )
        raise Forbidden(f"{name!r} is already publishing")
    logger.info("camera %s: publishing from %s", name, addr)
    presence.publish_started(name, addr, form.get("clientid", ""))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/on_publish_done")
async def on_publish_done(
    request: Request, settings: SettingsDep, presence: PresenceDep, throttle: ThrottleDep
) -> Response:
    _check_secret(request, settings, throttle)
    form = await _form(request)
    name = form.get("name", "")
    if presence.publish_done(name, form.get("clientid", "")):
        logger.info("camera %s: publisher left", name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
