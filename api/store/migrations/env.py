"""Alembic environment of the store: migrates the connection `api.store.database` passes in.

Run through `api.store.database.upgrade()` (or `Database.open()`), never the `alembic` command:
there is no alembic.ini, and logging stays as the application configured it.
"""

from __future__ import annotations

from alembic import context

from api.store.schema import Base


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or connection is None:
        raise RuntimeError("run the store's migrations with api.store.database.upgrade(url)")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters a table by copying it into a new one; batch mode does that.
        render_as_batch=connection.dialect.name == "sqlite",
        # The SQLite connection runs in an explicit BEGIN (api.store.database._engine): DDL
        # is transactional there too, so a failed migration leaves nothing behind.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
