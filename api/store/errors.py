"""The store's errors: driver and SQLAlchemy failures translated into one `StoreError`.

DoorbellError (api.errors)
└── StoreError             the database could not be opened, migrated, read or written
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from api.errors import DoorbellError


def _driver_errors() -> tuple[type[BaseException], ...]:
    """What a failed database call can raise. SQLAlchemy wraps what the drivers raise on
    statements, but not asyncpg's errors while connecting (a wrong password, say)."""
    errors: list[type[BaseException]] = [SQLAlchemyError, OSError]
    try:
        asyncpg = importlib.import_module("asyncpg")  # untyped; optional for SQLite
    except ImportError:
        return tuple(errors)
    return (*errors, asyncpg.PostgresError, asyncpg.InterfaceError)


DRIVER_ERRORS = _driver_errors()


class StoreError(DoorbellError):
    """A database operation failed; the message says which and why, never a password."""


def describe(exc: BaseException) -> str:
    """The driver's own first line for `exc`: without the SQL and its parameters, which
    SQLAlchemy appends and which may hold push tokens."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0]}" if text else type(cause).__name__


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Re-raise database and connection failures inside as `StoreError(action: ...)`."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        raise StoreError(f"{action}: {describe(exc)}") from exc
