"""The API's exception tree, mapped to HTTP in one place (`api.http.handlers`).

DoorbellError
├── ConfigError            settings are invalid; the CLI prints them and exits 2
├── RelayError             the nginx-rtmp child could not start or died
│   └── RelayNotReady      it did not bind its port in time
├── StoreError             the database failed (api.store.errors) -> 503 with Retry-After
├── Unauthorized           no or unknown credentials -> 401 with WWW-Authenticate
├── Forbidden              credentials that do not allow this -> 403
├── NotFound               a named resource (camera, event, ...) does not exist -> 404
├── NotInstalled           a part of the server is missing here (the web app unbuilt) -> 404
├── NoMedia                an event has no snapshot or clip (its state says why) -> 404
├── Conflict               an id is taken by something different -> 409
├── BodyTooLarge           a request body over its limit -> 413
├── OutsideBuffer          no video in the requested time range -> 416 with what there is
├── RangeNotSatisfiable    a byte range beyond the file -> 416 with its size
├── BadRequest             a parameter or the body is invalid -> 422 naming it
├── BadOffer               a WebRTC offer (SDP) that cannot be answered -> 400 naming why
├── UnsupportedMediaType   a body of another type than the route takes -> 415
├── BadDirective           an HLS delivery directive a playlist cannot honour -> 400
├── ClockOffsetNeeded      an agent time far from now, without an offset -> 425
├── TooManyAttempts        sign-ins failed too often; wait -> 429 with Retry-After
│   └── TooManyFailures    any credential failed too often from this address; wait
├── MediaPending           a snapshot, or the segment a blocking playlist reload asked
│                          for, still being made -> 503 with Retry-After
└── Busy                   no capacity left now -> 503 with Retry-After
    ├── ClipsBusy          no assembly slot and no queue place
    ├── ClipCacheFull      the clip cache cannot hold another clip yet
    ├── LiveViewUnavailable  no WebRTC viewer now (`reason`: camera_offline,
    │                      too_many_viewers, webrtc_unavailable); the app plays HLS
    └── TooManyStreams     every event-stream place is taken

The segmenter's own `ClipError` (a clip could not be assembled) is mapped too (503), by
type handed to the handlers by the wiring, so nothing but the wiring imports the segmenter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DoorbellError(Exception):
    """Base of every error this package raises."""


class ConfigError(DoorbellError):
    """Settings are invalid; the message names each field and what is allowed."""


class RelayError(DoorbellError):
    """The relay child process failed."""


class RelayNotReady(RelayError):
    """The relay did not accept connections before its deadline."""


class Unauthorized(DoorbellError):
    """No credentials, or unknown ones; `challenge` is the WWW-Authenticate value."""

    def __init__(self, message: str, challenge: str = "Bearer") -> None:
        self.challenge = challenge
        super().__init__(message)


class Forbidden(DoorbellError):
    """Valid credentials that do not allow this request."""


class NotFound(DoorbellError):
    """A resource the client named does not exist."""

    def __init__(
        self, kind: str, name: str, allowed: list[str] | None = None, *, why: str | None = None
    ) -> None:
        self.kind, self.name, self.allowed = kind, name, allowed
        super().__init__(f"unknown {kind} {name!r}" + (f": {why}" if why else ""))


class NotInstalled(DoorbellError):
    """A part of this server is not there (e.g. the web app was never built); says how to
    get it."""


class NoMedia(DoorbellError):
    """The event exists but has no such file: `state` says why (pending, failed, none,
    expired); `retry_after_s` when it is still being made."""

    def __init__(self, message: str, state: str, retry_after_s: int | None = None) -> None:
        self.state, self.retry_after_s = state, retry_after_s
        super().__init__(message)


class Conflict(DoorbellError):
    """The request clashes with what is stored (e.g. an event id reused for another event)."""


class BodyTooLarge(DoorbellError):
    """The request body is larger than `limit` bytes; it was not read further."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"body too large: at most {limit} bytes")


class OutsideBuffer(DoorbellError):
    """The requested time range holds no video; carries what the buffer does hold."""

    def __init__(self, message: str, start_ms: int | None, end_ms: int | None) -> None:
        self.start_ms, self.end_ms = start_ms, end_ms
        super().__init__(message)


class RangeNotSatisfiable(DoorbellError):
    """A byte range that starts beyond the end of a file of `size` bytes."""

    def __init__(self, header: str | None, size: int) -> None:
        self.size = size
        super().__init__(f"range {(header or '')[:60]!r} is outside the {size} bytes of this file")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field of a request: where (dotted) and what is wrong."""

    field: str
    problem: str


class BadRequest(DoorbellError):
    """A parameter or body field is invalid; says which and what is allowed."""

    def __init__(
        self,
        parameter: str,
        message: str,
        *,
        problems: Sequence[FieldProblem] = (),
        allowed: Sequence[str] | None = None,
    ) -> None:
        self.parameter = parameter
        self.problems = tuple(problems)
        self.allowed = None if allowed is None else list(allowed)
        super().__init__(message)


class BadDirective(DoorbellError):
    """An HLS delivery directive (`_HLS_msn`, `_HLS_part`) the playlist cannot honour: a
    segment too far ahead of the newest, or a part without its segment. RFC 8216bis
    (6.2.5.2) asks for 400 here, which players know to mean "start over"."""


class ClockOffsetNeeded(DoorbellError):
    """An agent event's time is far from now and it sent no clock offset: it should measure
    the offset from this answer and send again."""


class TooManyAttempts(DoorbellError):
    """Sign-ins from this address or for this username failed too often: the next attempt
    is not even checked before `retry_after_s`."""

    def __init__(self, retry_after_s: int, what: str = "sign-ins") -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many failed {what}; try again in {retry_after_s} s")


class TooManyFailures(TooManyAttempts):
    """This address sent wrong credentials too often: none of its requests that need
    credentials is checked before `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s, "authentications from this address")


class MediaPending(DoorbellError):
    """The file is still being made; try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class Busy(DoorbellError):
    """No capacity left for this now: try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class ClipsBusy(Busy):
    """No assembly slot and no queue place: try again later."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"too many clips being assembled; retry in {retry_after_s}s", retry_after_s
        )


class ClipCacheFull(Busy):
    """The clip cache cannot hold another clip until older ones may be pruned."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"the clip cache is full (clip_cache_max_bytes); retry in {retry_after_s}s, or ask "
            "for format=fmp4, which is streamed without the cache",
            retry_after_s,
        )


class TooManyStreams(Busy):
    """Every event-stream subscriber place is taken."""


class BadOffer(DoorbellError):
    """A WebRTC offer that cannot be answered; the message says what was wrong."""


class UnsupportedMediaType(DoorbellError):
    """A request body of a type the route does not take; the message names the one it does."""


class LiveViewUnavailable(Busy):
    """WebRTC live view cannot start now; `reason` says why (the app then plays HLS)."""

    def __init__(self, message: str, reason: str, retry_after_s: int = 2) -> None:
        self.reason = reason
        super().__init__(message, retry_after_s)
