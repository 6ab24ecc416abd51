"""The Web Push channel (RFC 8030, 8291, 8292): a PushMessage encrypted for each browser's
subscription (aes128gcm, by pywebpush), signed with the server's VAPID key and POSTed to the
subscription's endpoint with httpx; each answer translated into a PushOutcome.

pywebpush's own `webpush()` sends with blocking `requests`, and `webpush_async()` opens an
aiohttp session per call with no timeout unless given one; both sign a claims dict they
mutate. Here pywebpush does what it is best at (the encryption), py-vapid signs the token
(`VapidSigner`, cached per push service), and the request is ours: async, pooled, bounded in
time, in concurrency and in how much of an answer is read."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx
import pywebpush

from api.events.model import DeviceRecord, PushOutcome
from api.push.messages import PushMessage, to_web_push, web_push_headers
from api.push.notifier import SendResult
from api.push.vapid import VapidSigner
from common.clock import Clock, wall_ms
from common.retry import retry_after_s

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0  # a ring is worth little more than that
DEFAULT_CONCURRENCY = 8  # requests in flight at once, over every job
MAX_ANSWER_BYTES = 2048  # of a refusal's body, kept for the delivery log's error
_MAX_ERROR_CHARS = 200
_MAX_MESSAGE_ID_CHARS = 200


def outcome_of_status(status: int) -> PushOutcome:
    """What a push service's HTTP status says about one push. 2xx (201 Created): accepted.
    404 and 410: the subscription is gone (the device is deleted). 429: slow down. 5xx (and
    408): try again later. Anything else (400 malformed, 401/403 a VAPID key that is not the
    one the browser subscribed with, 413 too large) is about the request: `error`, not
    retried, and the device is kept: a bug of ours must never wipe the device table."""
    if 200 <= status < 300:
        return "sent"
    if status in (404, 410):
        return "unregistered"
    if status == 429:
        return "quota"
    if status == 500:
        return "internal"
    if status >= 500 or status == 408:
        return "unavailable"
    return "error"


def seal(payload: bytes, device: DeviceRecord) -> bytes:
    """`payload` encrypted for `device`'s subscription (aes128gcm, RFC 8291): CPU work (an
    ECDH key pair and AES-GCM). Raises ValueError for keys it cannot use."""
    keys = device.web_push_keys
    if keys is None:
        raise ValueError("the device has no Web Push keys")
    subscription = {"endpoint": device.token, "keys": {"p256dh": keys.p256dh, "auth": keys.auth}}
    try:
        encoded = pywebpush.WebPusher(subscription).encode(payload, "aes128gcm")
    except (pywebpush.WebPushException, ValueError, TypeError) as exc:
        raise ValueError(f"cannot encrypt for this subscription: {exc}") from exc
    body: bytes = encoded["body"]
    return body


def _seal_all(payload: bytes, devices: Sequence[DeviceRecord]) -> list[bytes | ValueError]:
    sealed: list[bytes | ValueError] = []
    for device in devices:
        try:
            sealed.append(seal(payload, device))
        except ValueError as exc:
            sealed.append(exc)
    return sealed


class WebPushNotifier:
    """Sends to browsers' Web Push subscriptions. Use it from one event loop; `aclose` closes
    its HTTP client."""

    def __init__(
        self,
        signer: VapidSigner,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        concurrency: int = DEFAULT_CONCURRENCY,
        clock: Clock = wall_ms,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, not {concurrency}")
        self._signer = signer
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        # No redirects: a push service answers; a redirect would send the body elsewhere.
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._closed = False

    async def send(self, message: PushMessage, devices: Sequence[DeviceRecord]) -> list[SendResult]:
        if self._closed:
            return [SendResult(d.id, "error", error="notifier closed") for d in devices]
        if not devices:
            return []
        try:
            payload = to_web_push(message)
        except ValueError as exc:
            return [SendResult(d.id, "error", error=str(exc)) for d in devices]
        headers = web_push_headers(message)
        # One trip to a worker thread for all of a job's encryption (~0.4 ms a device).
        sealed = await asyncio.to_thread(_seal_all, payload, devices)
        posts = (self._post(d, body, headers) for d, body in zip(devices, sealed, strict=True))
        return list(await asyncio.gather(*posts))

    async def _post(
        self, device: DeviceRecord, body: bytes | ValueError, headers: dict[str, str]
    ) -> SendResult:
        if isinstance(body, ValueError):
            return SendResult(device.id, "error", error=str(body))
        try:
            headers = {
                **headers,
                "Authorization": self._signer.authorization(device.token),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
            }
            async with self._slots:
                return await self._request(device, body, headers)
        except httpx.UnsupportedProtocol as exc:  # registration refuses such endpoints
            return SendResult(device.id, "error", error=f"not a push endpoint: {exc}")
        except httpx.TransportError as exc:  # refused, reset, timed out: try again later
            return SendResult(device.id, "unavailable", error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug or a surprise: this device's result, not the job's
            logger.exception("Web Push to device %s failed", device.id)
            return SendResult(device.id, "error", error=f"{type(exc).__name__}: {exc}")

    async def _request(
        self, device: DeviceRecord, body: bytes, headers: dict[str, str]
    ) -> SendResult:
        async with self._client.stream(
            "POST", device.token, content=body, headers=headers
        ) as response:
            answer = await _read_some(response, MAX_ANSWER_BYTES)
        outcome = outcome_of_status(response.status_code)
        if outcome == "sent":
            location = response.headers.get("Location")
            message_id = location[:_MAX_MESSAGE_ID_CHARS] if location else None
            return SendResult(device.id, "sent", message_id=message_id)
        text = answer.decode("utf-8", "replace").strip()[:_MAX_ERROR_CHARS]
        return SendResult(
            device.id,
            outcome,
            error=f"HTTP {response.status_code}" + (f": {text}" if text else ""),
            retry_after_s=retry_after_s(response.headers.get("Retry-After"), self._clock()),
        )

    async def aclose(self) -> None:
        """Close the HTTP client. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._client.aclose()


async def _read_some(response: httpx.Response, limit: int) -> bytes:
    """Up to `limit` bytes of the body; the rest is not read (the connection is dropped)."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit]
