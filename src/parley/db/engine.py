"""The engine and session factory for the configured database."""

import asyncio
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from parley.db.session import WRITE_TRANSACTION, DatabaseSession
from parley.db.urls import async_url
from parley.db.writer import SQLITE_BUSY_TIMEOUT_MS, WriterThread, WriterTurn, set_pragmas

CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 5
# SQLAlchemy's own pool sizes for a SQLite file, stated: each connection is a thread.
SQLITE_POOL_SIZE = 5
SQLITE_MAX_OVERFLOW = 10
# A WAL reader waits only while another connection recovers the WAL index: rare and short,
# and an inline read must not hold the event loop for long (InlineReads).
INLINE_BUSY_TIMEOUT_MS = 100
# A pooled connection idle at least this long is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0
# A server that accepts a query and never answers must not hold the request forever.
COMMAND_TIMEOUT_S = 15


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[DatabaseSession]
    # The lean path's turns at the pool, first come first served (db/fast.py): as many as the
    # pool keeps open. The overflow is left to the ORM: an overflow connection is closed when
    # it comes back, so using it for every burst meant a new connection per request.
    turns: asyncio.Semaphore
    # SQLite file: the lean path's reads, run in the caller's thread (db/fast.py).
    inline_reads: "InlineReads | None" = None
    # SQLite file: the lean path's write transactions, each run whole in one thread.
    writer_thread: WriterThread | None = None
    # Writes sent in groups (db/grouping.py), by kind: this process's, made on first use.
    groups: dict[str, Any] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def writer(self) -> WriterTurn | None:
        """SQLite: the process's writer turn, which every write transaction takes first."""
        writer: WriterTurn | None = self.sessions.kw.get("writer")
        return writer

    async def dispose(self) -> None:
        if self.inline_reads is not None:
            self.inline_reads.close()
        if self.writer_thread is not None:
            await self.writer_thread.close()
        await self.engine.dispose()


class InlineReads:
    """A SQLite file's connection for the lean path's reads, run in the event loop's thread.

    A lean read is one indexed statement: SQLite answers it in tens of microseconds, far less
    than handing it to a driver thread and back costs (two GIL hand-overs and the threads'
    own Python work, decision 187). In WAL mode a reader never waits for a writer, so a read
    here does not hold the loop up; writes keep their threads (they can wait for the lock).
    Opened on first use; read-only; one statement at a time (the lock guards against a
    second thread, which serving never has).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self.lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=0
            )
            connection.execute(f"PRAGMA busy_timeout={INLINE_BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA query_only=ON")
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def create_database(database_url: str, *, pool_size: int = 10, echo: bool = False) -> Database:
    """Create a pooled engine for the URL, tuned for its database."""
    url = async_url(database_url)
    options: dict[str, Any] = {"echo": echo}
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite_path(url.database)
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        turns = SQLITE_POOL_SIZE
        options.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_MAX_OVERFLOW)
    else:
        turns = pool_size
        options.update(
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
    inline_reads = None
    writer_thread = None
    if url.get_backend_name() != "sqlite":
        _ping_when_idle(engine)
    if url.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
        writer = WriterTurn()  # one write transaction at a time in this process, in order
        if _is_file(url.database):
            inline_reads = InlineReads(str(url.database))
            writer_thread = WriterThread(str(url.database))
    sessions = async_sessionmaker(
        engine, class_=DatabaseSession, expire_on_commit=False, autoflush=False, writer=writer
    )
    return Database(engine, sessions, asyncio.Semaphore(turns), inline_reads, writer_thread)


def create_sibling(database: Database, *, pool_size: int) -> Database:
    """A second pool on the same database (for background work), sharing SQLite's writer turn
    with the first, so the two never race for the file's write lock."""
    sibling = create_database(database.engine.url.render_as_string(False), pool_size=pool_size)
    writer = database.writer
    if writer is not None:
        sibling.sessions.configure(writer=writer)
    return sibling


def _is_file(database: str | None) -> bool:
    """A plain path (not memory, not a URI with options of its own)."""
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")


def _prepare_sqlite_path(database: str | None) -> None:
    if _is_file(database) and database:
        from pathlib import Path

        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection on checkout only when it has been idle a while.

    A server can restart or drop a connection under the pool; a connection handed back
    moments ago was just seen to work. SQLAlchemy's `pool_pre_ping` pinged on every checkout:
    on PostgreSQL a transaction begun and rolled back, two round trips before every statement
    of the hot paths (decision 188). A failed ping raises DisconnectionError: the pool
    replaces the connection and tries again, as with `pool_pre_ping`.
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # new (just connected), or handed back moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa_exc.DisconnectionError(str(exc)) from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL for concurrent readers, foreign keys on, and transactions SQLAlchemy controls."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN only wraps writes; we begin every transaction below.
        dbapi_connection.isolation_level = None
        set_pragmas(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock up front: a deferred one that read first
        # could not upgrade once another writer had committed.
        write = connection.get_execution_options().get(WRITE_TRANSACTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
