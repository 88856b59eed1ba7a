"""The engine and session factory for the configured database."""

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from parley.db.session import WRITE_TRANSACTION, DatabaseSession
from parley.db.urls import async_url

SQLITE_BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 5
# SQLAlchemy's own pool sizes for a SQLite file, stated: each connection is a thread.
SQLITE_POOL_SIZE = 5
SQLITE_MAX_OVERFLOW = 10
# A server that accepts a query and never answers must not hold the request forever.
COMMAND_TIMEOUT_S = 15


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[DatabaseSession]
    # The lean path's turns at the pool, first come first served (db/fast.py): as many as the
    # pool holds connections.
    turns: asyncio.Semaphore

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def writer(self) -> asyncio.Lock | None:
        """SQLite: the process's writer turn, which every write transaction takes first."""
        writer: asyncio.Lock | None = self.sessions.kw.get("writer")
        return writer

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_database(database_url: str, *, pool_size: int = 10, echo: bool = False) -> Database:
    """Create a pooled engine for the URL, tuned for its database."""
    url = async_url(database_url)
    options: dict[str, Any] = {"echo": echo}
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite_path(url.database)
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        capacity = SQLITE_POOL_SIZE + SQLITE_MAX_OVERFLOW
        options.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_MAX_OVERFLOW)
    else:
        capacity = 2 * pool_size
        options.update(
            # A server can restart under a pooled connection; a local file cannot.
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=POOL_TIMEOUT_S,
            pool_recycle=1800,
            connect_args={"timeout": CONNECT_TIMEOUT_S, "command_timeout": COMMAND_TIMEOUT_S}
            if url.get_backend_name() == "postgresql"
            else {"connect_timeout": CONNECT_TIMEOUT_S, "read_timeout": COMMAND_TIMEOUT_S},
        )
    if url.get_backend_name() == "mysql":
        # PostgreSQL's default. MariaDB's REPEATABLE READ takes gap locks that deadlock
        # concurrent claim-then-insert transactions (e.g. two refreshes of one token).
        options["isolation_level"] = "READ COMMITTED"
    engine = create_async_engine(url, **options)
    writer = None
    if url.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
        writer = asyncio.Lock()  # one write transaction at a time in this process, in order
    sessions = async_sessionmaker(
        engine, class_=DatabaseSession, expire_on_commit=False, autoflush=False, writer=writer
    )
    return Database(engine, sessions, asyncio.Semaphore(capacity))


def create_sibling(database: Database, *, pool_size: int) -> Database:
    """A second pool on the same database (for background work), sharing SQLite's writer turn
    with the first, so the two never race for the file's write lock."""
    sibling = create_database(database.engine.url.render_as_string(False), pool_size=pool_size)
    writer = database.writer
    if writer is not None:
        sibling.sessions.configure(writer=writer)
    return sibling


def _prepare_sqlite_path(database: str | None) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):
        from pathlib import Path

        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL for concurrent readers, foreign keys on, and transactions SQLAlchemy controls."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN only wraps writes; we begin every transaction below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock up front: a deferred one that read first
        # could not upgrade once another writer had committed.
        write = connection.get_execution_options().get(WRITE_TRANSACTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
