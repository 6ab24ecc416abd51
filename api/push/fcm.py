"""The FCM channel: sending a PushMessage to devices' FCM registration tokens through
firebase-admin (FcmNotifier; the logging stand-in without credentials), each token's result
translated into a PushOutcome."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import firebase_admin
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport.requests
import httpx
import requests
from firebase_admin import (
    _http_client,
    _retry,
    credentials,
    exceptions,
    messaging,
)

from api.events.model import DeviceRecord, PushOutcome
from api.push.messages import PushMessage, to_fcm
from api.push.notifier import LoggingNotifier, Notifier, SendResult
from common.clock import wall_ms
from common.retry import retry_after_s

logger = logging.getLogger(__name__)

MAX_TOKENS_PER_CALL = 500  # send_each_for_multicast_async's limit
DEFAULT_HTTP_TIMEOUT_S = 10.0  # the SDK's default is 120 s: longer than a ring is worth
_SERVICE_ACCOUNT_FIELDS = ("project_id", "private_key", "client_email", "token_uri")


class FcmNotifier:
    """FCM through firebase-admin's async HTTP/2 client, on a firebase App of its own (made
    here, deleted by `aclose`). Use it from one event loop. Retries are the dispatcher's:
    see `_without_sdk_retries`."""

    def __init__(
        self,
        credential: credentials.Base | google.auth.credentials.Credentials,
        project_id: str | None = None,
        *,
        timeout_s: float = DEFAULT_HTTP_TIMEOUT_S,
        max_tokens_per_call: int = MAX_TOKENS_PER_CALL,
    ) -> None:
        self._max_tokens = max_tokens_per_call
        options: dict[str, Any] = {"httpTimeout": timeout_s}
        if project_id is not None:
            options["projectId"] = project_id
        self._app: Any = firebase_admin.initialize_app(
            credential, options, name=f"doorbell-push-{uuid.uuid4().hex}"
        )
        self._google_credential: google.auth.credentials.Credentials = (
            self._app.credential.get_credential()
        )
        self._auth_session = requests.Session()
        self._auth_lock = asyncio.Lock()
        self._service: Any = None
        self._closed = False
        self.sdk_retries_disabled = False  # known after the first send

    @property
    def app_name(self) -> str:
        return str(self._app.name)

    async def send(self, message: PushMessage, devices: Sequence[DeviceRecord]) -> list[SendResult]:
        if self._closed:
            return [SendResult(d.id, "error", error="notifier closed") for d in devices]
        if not devices:
            return []
        try:
            await self._prepare()
        except Exception as exc:
            # e.g. no OAuth token could be had: every device gets the same result.
            logger.warning("FCM not reachable for %d device(s): %r", len(devices), exc)
            return [_result(device.id, exc) for device in devices]
        results: list[SendResult] = []
        for start in range(0, len(devices), self._max_tokens):
            results += await self._send_chunk(message, devices[start : start + self._max_tokens])
        return results

    async def _send_chunk(
        self, message: PushMessage, devices: Sequence[DeviceRecord]
    ) -> list[SendResult]:
        try:
            batch = await messaging.send_each_for_multicast_async(
                to_fcm(message, [device.token for device in devices]), app=self._app
            )
        except Exception as exc:
            logger.warning("FCM call for %d token(s) failed: %s", len(devices), exc)
            return [_result(device.id, exc) for device in devices]
        results: list[SendResult] = []
        for device, response in zip(devices, batch.responses, strict=True):
            if response.success:
                results.append(SendResult(device.id, "sent", message_id=response.message_id))
            elif response.exception is not None:
                results.append(_result(device.id, response.exception))
            else:
                results.append(SendResult(device.id, "error", error="FCM named no message"))
        return results

    async def _prepare(self) -> None:
        """Make the messaging service (first call) and get an OAuth token if needed. The
        SDK would refresh the token inside its httpx auth flow with blocking `requests` on
        the event loop; doing it first in a thread keeps the loop free."""
        if self._service is None:
            # Private, like everything `_without_sdk_retries` touches (see there why).
            # Made here, in the loop that uses it: its httpx client binds to that loop.
            self._service = messaging._get_messaging_service(self._app)
            replaced = _without_sdk_retries(self._service)
            self.sdk_retries_disabled = replaced is not None
            if replaced is not None:
                await replaced.aclose()
        async with self._auth_lock:
            if not self._google_credential.valid:
                request = google.auth.transport.requests.Request(session=self._auth_session)
                await asyncio.to_thread(self._google_credential.refresh, request)

    async def aclose(self) -> None:
        """Close the HTTP clients and delete the App. Idempotent."""
        if self._closed:
            return
        self._closed = True
        client = getattr(self._service, "_async_client", None)
        if client is not None:
            await client.aclose()
        # delete_app() closes the messaging service with asyncio.run(), which cannot run in
        # this (running) loop; in a worker thread it only finds the client closed above.
        await asyncio.to_thread(firebase_admin.delete_app, self._app)
        self._auth_session.close()


def _without_sdk_retries(service: Any) -> Any:
    """Swap the messaging service's async client for one that does not retry; return the
    replaced client (to close), or None when this SDK version has a different shape.

    firebase-admin 7 retries 500 and 503 inside `send_each_for_multicast_async` (5
    requests over ~7 s, ignoring Retry-After and the message's TTL) and offers no public
    switch (firebase-admin-python issue #554). The dispatcher owns retries instead, so that
    every request FCM sees is a numbered attempt in the delivery log. This uses private
    names (`_async_client`, `_credential`, `HttpxAsyncClient`, `HttpxRetry`), pinned by
    tests/api/push/test_fcm.py::test_sdk_makes_one_request_per_attempt, and
    firebase-admin is pinned below 8. If they change, pushes still go out, with the SDK's
    retries hidden inside one logged attempt; we warn rather than fail."""
    old: Any = getattr(service, "_async_client", None)
    credential: Any = getattr(service, "_credential", None)
    client_type: Any = getattr(_http_client, "HttpxAsyncClient", None)
    retry_type: Any = getattr(_retry, "HttpxRetry", None)
    if (
        credential is None
        or not isinstance(client_type, type)
        or not isinstance(old, client_type)
        or not callable(retry_type)
    ):
        logger.warning(
            "firebase-admin %s: cannot turn off its own retries; a 500/503 from FCM is retried "
            "inside the SDK and logged as one attempt",
            firebase_admin.__version__,
        )
        return None
    service._async_client = client_type(
        credential=credential,
        timeout=getattr(old, "timeout", None),
        retry_config=retry_type(max_retries=0),
    )
    return old


_BY_TYPE: tuple[tuple[type[BaseException], PushOutcome], ...] = (
    (messaging.UnregisteredError, "unregistered"),
    (messaging.SenderIdMismatchError, "invalid"),  # the token belongs to another project
    (messaging.QuotaExceededError, "quota"),
    (exceptions.ResourceExhaustedError, "quota"),
    (exceptions.UnavailableError, "unavailable"),  # includes a refused connection
    (exceptions.DeadlineExceededError, "unavailable"),  # a timeout is as transient
    (exceptions.InternalError, "internal"),
    (google.auth.exceptions.TransportError, "unavailable"),  # the token endpoint unreachable
    (httpx.TransportError, "unavailable"),  # connection reset, protocol error mid-request
    (requests.ConnectionError, "unavailable"),
)


def outcome_of(exc: BaseException) -> PushOutcome:
    """The outcome an exception from a send (or its cause) stands for.

    Only FCM's own verdicts on a token make it `unregistered`/`invalid` (the device is then
    deleted): the UNREGISTERED error code, or INVALID_ARGUMENT saying the registration token
    is not valid. A bare 404 or another INVALID_ARGUMENT (payload too big, bad TTL) is about
    the request, not the token, and becomes `error`: a bug of ours must never wipe the device
    table. `error` (permission denied, refused credentials, bad payload) is not retried."""
    for current in _chain(exc):
        if isinstance(current, exceptions.InvalidArgumentError):
            return "invalid" if "registration token" in str(current).lower() else "error"
        for kind, outcome in _BY_TYPE:
            if isinstance(current, kind):
                return outcome
    return "error"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return seen


def _result(device_id: str, exc: BaseException) -> SendResult:
    return SendResult(
        device_id,
        outcome_of(exc),
        error=f"{type(exc).__name__}: {exc}",
        retry_after_s=_retry_after(exc),
    )


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from the Retry-After header of the HTTP response behind `exc`, if any."""
    response = getattr(exc, "http_response", None)
    value = getattr(getattr(response, "headers", None), "get", lambda _: None)("Retry-After")
    return retry_after_s(value if isinstance(value, str) else None, wall_ms())


def build_fcm_notifier(credentials_file: Path | None, project_id: str | None) -> Notifier:
    """The FCM channel the settings ask for: FCM with a service account, or (no file) the
    logging stand-in. A file that cannot serve raises ValueError naming it and the fault."""
    if credentials_file is None:
        logger.warning("push disabled: no fcm credentials_file set; notifications are only logged")
        return LoggingNotifier()
    info = _read_service_account(credentials_file)
    try:
        credential = credentials.Certificate(info)
    except ValueError as exc:
        raise ValueError(f"{credentials_file}: not a usable service account: {exc}") from exc
    return FcmNotifier(credential, project_id or info["project_id"])


def _read_service_account(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the FCM credentials file: {exc.strerror}") from exc
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError(
            f'{path}: not a service-account key (needs "type": "service_account"; '
            "download one from Firebase console > Project settings > Service accounts)"
        )
    missing = [f for f in _SERVICE_ACCOUNT_FIELDS if not isinstance(info.get(f), str)]
    if missing:
        raise ValueError(f"{path}: service account lacks {', '.join(missing)}")
    return info
