"""The event, device and delivery store (SQLite by default, PostgreSQL by URL).

SQLAlchemy 2 async; the schema is managed by Alembic migrations that `Database.open()` runs.
"""

from api.store.database import Database, sqlite_url, upgrade
from api.store.deliveries import DeliveryStore
from api.store.devices import DeviceStore
from api.store.errors import StoreError
from api.store.events import EventStore

__all__ = [
    "Database",
    "DeliveryStore",
    "DeviceStore",
    "EventStore",
    "StoreError",
    "sqlite_url",
    "upgrade",
]
