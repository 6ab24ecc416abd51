"""Logging of the server's commands: one format, and no secret in any line at any level.

Libraries that would write secrets are kept at WARNING whatever `--log-level` says
(`SECRET_LOGGERS` says what each would write), and every line goes through `Redact`, which
blanks what still looks like one (a URL's `sig`, `key` or `token` parameter, a bearer
token), as a last line of defence: the server's own log calls name events and device ids,
never signed URLs, push tokens or endpoints.
"""

from __future__ import annotations

import logging
import re

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

SECRET_LOGGERS = {
    # DEBUG: every statement with its parameters (push tokens, Web Push endpoints and keys,
    # session and token hashes).
    "aiosqlite": logging.WARNING,
    # INFO: statements and parameters; DEBUG: rows. Off unless asked for, kept off.
    "sqlalchemy.engine": logging.WARNING,
    # INFO: each request's URL (a Web Push endpoint is a capability to push to a browser).
    "httpx": logging.WARNING,
    # DEBUG: request and header events; hpack logs every header (FCM's OAuth bearer token).
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    # DEBUG: each request line of firebase-admin and google-auth.
    "urllib3": logging.WARNING,
    # Alembic announces each of its plugins at INFO on every start.
    "alembic.runtime.plugins": logging.WARNING,
}

_SECRET_PARTS = (
    (re.compile(r"([?&](?:sig|key|token|secret)=)[^&\s'\"]+", re.IGNORECASE), r"\1<redacted>"),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1<redacted>"),
)


def redact(text: str) -> str:
    """`text` with what looks like a secret blanked (see the module docstring)."""
    for pattern, replacement in _SECRET_PARTS:
        text = pattern.sub(replacement, text)
    return text


class Redact(logging.Filter):
    """A handler filter: the record's message, formatted, with secrets blanked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def quiet_secret_loggers() -> None:
    """Hold the loggers of `SECRET_LOGGERS` at their level (or above)."""
    for name, level in SECRET_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)


_REDACT = Redact()  # one instance: adding it twice to a handler is a no-op


def configure(level: str) -> None:
    """Logging to stderr at `level`, with `SECRET_LOGGERS` quiet and every line redacted."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_REDACT)
    quiet_secret_loggers()
