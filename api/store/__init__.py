"""The store of events, devices, deliveries and accounts (SQLite by default, PostgreSQL by
URL).

SQLAlchemy 2 async; the schema is managed by Alembic migrations that `Database.open()` runs.
"""

from api.store.database import Database, sqlite_url, upgrade
from api.store.deliveries import DeliveryStore
from api.store.devices import DeviceStore
from api.store.errors import StoreError
from api.store.events import EventStore
from api.store.sessions import SessionStore
from api.store.tokens import TokenStore
from api.store.users import UserStore

__all__ = [
    "Database",
    "DeliveryStore",
    "DeviceStore",
    "EventStore",
    "SessionStore",
    "StoreError",
    "TokenStore",
    "UserStore",
    "sqlite_url",
    "upgrade",
]
