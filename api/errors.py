"""The API's exception tree, mapped to HTTP in one place (`api.app._install_error_handlers`).

DoorbellError
├── ConfigError            settings are invalid; the CLI prints them and exits 2
├── RelayError             the nginx-rtmp child could not start or died
│   └── RelayNotReady      it did not bind its port in time
├── NotFound               a named resource (camera, ...) does not exist -> 404
├── BadRequest             a parameter is invalid -> 422 naming it
├── OutsideBuffer          no video in the requested time range -> 416 with what there is
├── ClipsBusy              no assembly slot or queue place -> 503 with Retry-After
└── Conflict               an id is taken by something different -> 409
"""


class DoorbellError(Exception):
    """Base of every error this package raises."""


class ConfigError(DoorbellError):
    """Settings are invalid; the message names each field and what is allowed."""


class RelayError(DoorbellError):
    """The relay child process failed."""


class RelayNotReady(RelayError):
    """The relay did not accept connections before its deadline."""


class NotFound(DoorbellError):
    """A resource the client named does not exist."""

    def __init__(self, kind: str, name: str, allowed: list[str] | None = None) -> None:
        self.kind, self.name, self.allowed = kind, name, allowed
        super().__init__(f"unknown {kind} {name!r}")


class BadRequest(DoorbellError):
    """A query parameter is invalid; says which and what is allowed."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(message)


class OutsideBuffer(DoorbellError):
    """The requested time range holds no video; carries what the buffer does hold."""

    def __init__(self, message: str, start_ms: int | None, end_ms: int | None) -> None:
        self.start_ms, self.end_ms = start_ms, end_ms
        super().__init__(message)


class ClipsBusy(DoorbellError):
    """No assembly slot and no queue place: try again later."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many clips being assembled; retry in {retry_after_s}s")


class Conflict(DoorbellError):
    """The request clashes with what is stored (e.g. an event id reused for another event)."""
