"""The lean path of the hot routes: statements compiled once per dialect, run on a pooled driver
connection, rows turned straight into response JSON.

SQLAlchemy still writes the SQL (Core or `text()`, compiled on first use with the driver's own
parameter style, binds in their compiled order) and still owns the pool; what the lean path
skips is the session and the execution layer: no unit of work, no result processing, no ORM
objects, no bind processors (`reading` and `transaction` below, decisions 183 and 189).
The conversions those would do (UUIDs and timestamps differ per database, see db/types.py) are
done here, once, by the connection's `Driver`.
"""

import asyncio
import contextlib
import sqlite3
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Hashable,
    Mapping,
    Sequence,
)
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar, cast
from uuid import UUID

import orjson
from sqlalchemy import ClauseElement, ColumnElement, Dialect, Integer, literal_column, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.util import greenlet_spawn

from parley.db.engine import POOL_TIMEOUT_S, Database
from parley.db.errors import is_database_unavailable
from parley.db.writer import WriterThread, WriterTurn

Row = Sequence[Any]
T = TypeVar("T")


class Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...]  # the bind names in the order the SQL takes them
    constants: dict[str, Any]  # binds the statement fixed itself (e.g. SQLite's OFFSET 0)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The parameters in the SQL's order, from `params` by name."""
        constants = self.constants
        return [params[name] if name in params else constants[name] for name in self.names]


_compiled: dict[tuple[Hashable, str, str], Compiled] = {}

# Called with each statement the lean path sends and its parameters (the tests count them).
statement_observers: list[Callable[[str, list[Any]], None]] = []


def compiled(key: Hashable, dialect: Dialect, build: Callable[[], ClauseElement]) -> Compiled:
    """The statement `build()` makes for `key`, compiled for this dialect once per process."""
    cache_key = (key, dialect.name, dialect.driver)
    found = _compiled.get(cache_key)
    if found is None:
        statement = build().compile(dialect=dialect)
        names = getattr(statement, "positiontup", None) or ()  # a SQLCompiler's bind order
        constants = {k: v for k, v in statement.params.items() if v is not None}
        found = Compiled(statement.string, tuple(names), constants)
        _compiled[cache_key] = found
    return found


def compiled_text(key: str, dialect: Dialect, sql: str) -> Compiled:
    """The SQL text `sql`, under `key`, in this dialect's parameter style, compiled once."""
    return compiled((key,), dialect, lambda: text(sql))


def page_limit(rows: int) -> ColumnElement[int]:
    """A page statement's LIMIT, written into its text rather than bound (decision 199): with
    a bound LIMIT, PostgreSQL costs its one reusable plan for a tenth of the rows it expects,
    finds it dearer than planning anew, and plans the statement again on every execution.
    A statement per page size; sizes are bounded (1-100 items), so are the statements."""
    return literal_column(str(int(rows)), Integer)


def _json_time(value: datetime) -> str:
    """Pydantic's JSON form of a UTC time (naive, or aware in UTC): microseconds only when
    there are any, then Z. `isoformat` writes that form, with "+00:00" for an aware time."""
    if value.tzinfo is None:
        return f"{value.isoformat()}Z"
    return f"{value.isoformat()[:-6]}Z"


def utc_json_time(value: datetime) -> str:
    """Pydantic's JSON form of a timezone-aware time, read as UTC (e.g. an ORM object's)."""
    return _json_time(value if value.tzinfo is UTC else value.astimezone(UTC))


def _hex_uuid_text(value: str) -> str:
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


class Driver:
    """A driver connection with its database's value conversions.

    `uuid`/`time` turn Python values into parameters; `uuid_text`, `json_time` and `time_value`
    read columns back. Subclasses follow how each database stores UUIDs and timestamps.
    """

    # The driver's errors of a closed or broken connection, which SQLAlchemy would have wrapped
    # (set by `_driver_class()` on first use: a process imports only its own database's driver).
    interface_errors: tuple[type[Exception], ...] = ()

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        self.connection = connection
        self.dialect = dialect

    async def fetch(self, statement: Compiled, params: Mapping[str, Any]) -> list[Row]:
        """Run the statement with these parameters by name; return its rows (maybe none)."""
        args = statement.args(params)
        for observe in statement_observers:
            observe(statement.sql, args)
        try:
            return await self._fetch(statement.sql, args)
        except self.interface_errors as error:
            # Raised as SQLAlchemy raises it, so decision 063 reads it alike: a 503.
            raise sa_exc.InterfaceError(statement.sql, args, error) from error

    async def _fetch(self, sql: str, args: list[Any]) -> list[Row]:
        raise NotImplementedError

    async def command(self, sql: str) -> None:
        """Run a statement without parameters or rows: a transaction's BEGIN, COMMIT, ROLLBACK."""
        try:
            await self._command(sql)
        except self.interface_errors as error:
            raise sa_exc.InterfaceError(sql, [], error) from error

    async def _command(self, sql: str) -> None:
        await self._fetch(sql, [])

    # The statement that begins a write transaction (SQLite: holding the write lock at once).
    BEGIN_WRITE = "BEGIN"

    def uuid(self, value: UUID) -> Any:
        return value.hex  # CHAR(32) on SQLite and MariaDB

    def uuid_text(self, value: Any) -> str:
        return _hex_uuid_text(value)

    def time(self, value: datetime) -> Any:
        return value.astimezone(UTC).replace(tzinfo=None)

    def time_value(self, value: Any) -> datetime:
        stored: datetime = value
        return stored.replace(tzinfo=UTC)

    def json_time(self, value: Any) -> str:
        return _json_time(value)


class SqliteDriver(Driver):
    """aiosqlite: text timestamps in SQLAlchemy's fixed format, UUIDs as 32 hex digits."""

    BEGIN_WRITE = "BEGIN IMMEDIATE"

    async def _fetch(self, sql: str, args: list[Any]) -> list[Row]:
        return list(await self.connection.execute_fetchall(sql, args))

    def time(self, value: datetime) -> Any:
        # SQLAlchemy's SQLite storage format; it sorts as the times do.
        utc = value.astimezone(UTC)
        return f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond:06d}"

    def time_value(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def json_time(self, value: Any) -> str:
        text: str = value
        if len(text) != 26:  # not "YYYY-MM-DD HH:MM:SS.ffffff": take the general way
            return _json_time(self.time_value(text))
        fraction = text[19:]
        return f"{text[:10]}T{text[11:19]}{'' if fraction == '.000000' else fraction}Z"


class InlineSqliteDriver(SqliteDriver):
    """A SQLite connection used in the caller's thread (db/engine.py: the process's inline
    reads, or the writer thread's transactions): a statement is run with no await inside, so
    no other request's statement can come between its steps."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        dialect: Dialect,
        lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        super().__init__(connection, dialect)
        self.lock: AbstractContextManager[Any] = lock or contextlib.nullcontext()

    async def _fetch(self, sql: str, args: list[Any]) -> list[Row]:
        with self.lock:
            rows: list[Row] = self.connection.execute(sql, args).fetchall()
        return rows


class PostgresDriver(Driver):
    """asyncpg: native UUIDs and timezone-aware timestamps."""

    async def _command(self, sql: str) -> None:
        await self.connection.execute(sql)  # the simple protocol: no statement to prepare

    async def _fetch(self, sql: str, args: list[Any]) -> list[Row]:
        rows: list[Row] = await self.connection.fetch(sql, *args)
        return rows

    def uuid(self, value: UUID) -> Any:
        return value

    def uuid_text(self, value: Any) -> str:
        return str(value)

    def time(self, value: datetime) -> Any:
        return value

    def time_value(self, value: Any) -> datetime:
        stored: datetime = value
        return stored.astimezone(UTC)

    def json_time(self, value: Any) -> str:
        return utc_json_time(value)  # asyncpg's times are in UTC already


class MysqlDriver(Driver):
    """asyncmy: naive UTC DATETIME(6); UUIDs native on MariaDB (text with dashes), else 32 hex
    digits."""

    def __init__(self, connection: Any, dialect: Dialect) -> None:
        super().__init__(connection, dialect)
        self.native_uuid = bool(dialect.supports_native_uuid)

    def uuid(self, value: UUID) -> Any:
        return str(value) if self.native_uuid else value.hex

    def uuid_text(self, value: Any) -> str:
        text: str = value
        return text if self.native_uuid else _hex_uuid_text(text)

    async def _fetch(self, sql: str, args: list[Any]) -> list[Row]:
        async with self.connection.cursor() as cursor:
            await cursor.execute(sql, args)
            rows: list[Row] = list(await cursor.fetchall())
        return rows


_DRIVERS: dict[str, type[Driver]] = {
    "sqlite": SqliteDriver,
    "postgresql": PostgresDriver,
    "mysql": MysqlDriver,
    "mariadb": MysqlDriver,
}
_armed: set[type[Driver]] = set()


def _arm(cls: type[Driver]) -> None:
    """Give the driver class its interface errors, importing its module now that it is in use
    (asyncmy alone weighs ~11 MB a SQLite process never needs)."""
    if cls is PostgresDriver:
        import asyncpg  # type: ignore[import-untyped]

        cls.interface_errors = (asyncpg.InterfaceError,)
    elif cls is MysqlDriver:
        import asyncmy.errors

        cls.interface_errors = (asyncmy.errors.InterfaceError,)
    _armed.add(cls)


def _driver_class(dialect: Dialect) -> type[Driver]:
    cls = _DRIVERS[dialect.name]
    if cls not in _armed:
        _arm(cls)
    return cls


async def _checkout(database: Database) -> tuple[Any, Driver]:
    """A connection from the engine's pool (its ping after idleness, size and timeouts), and
    its driver.

    The lean path first takes a turn (`Database.turns`, as many as the pool keeps open): the
    pool's own queue lets a newcomer take a connection handed back while an earlier waiter is
    still waking up, which left a few requests waiting ten times as long as the rest under load
    (decision 186).
    """
    try:
        async with asyncio.timeout(POOL_TIMEOUT_S):
            await database.turns.acquire()
    except TimeoutError:
        raise sa_exc.TimeoutError(f"no turn at the pool within {POOL_TIMEOUT_S} s") from None
    try:
        pooled = await database.engine.raw_connection()
    except BaseException:
        database.turns.release()
        raise
    dialect = database.engine.dialect
    return pooled, _driver_class(dialect)(pooled.driver_connection, dialect)


async def _release(database: Database, pooled: Any, *, reset: bool) -> None:
    """Give the connection back to the pool: through the pool's reset (a rollback), or without
    it when nothing is left open, as SQLAlchemy's own Connection releases after a commit."""
    try:
        if reset:
            await greenlet_spawn(pooled.close)
        else:
            await greenlet_spawn(pooled._close_special, True)
    finally:
        database.turns.release()


Work = Callable[["Driver"], Coroutine[Any, Any, T]]

# Databases whose driver runs a statement outside a transaction as its own (SQLite with the
# connection's isolation_level None, see db/engine.py; asyncpg): a lean read leaves nothing open.
_NO_TRANSACTION_LEFT = frozenset({"sqlite", "postgresql"})


async def transaction(database: Database, work: Work[T]) -> T:
    """Run `work` as one write transaction of the lean path, past SQLAlchemy's session and
    connection: begun, committed when it returns, rolled back if it raises.

    On SQLite it first takes the process's writer turn (the lock its sessions share:
    db/session.py) and begins IMMEDIATE, so the write lock is held before the first statement;
    on a SQLite file the whole transaction then runs in one call to the writer thread
    (decision 189), so `work` must only await its driver's statements. Elsewhere a pooled
    connection whose rollback fails too is dropped from the pool, never handed out again inside
    a transaction SQLAlchemy does not know of.
    """
    writer = database.writer
    if writer is not None and database.writer_thread is not None:
        return await _in_writer_thread(database, database.writer_thread, writer, work)
    async with writer if writer is not None else contextlib.nullcontext():
        pooled, conn = await _checkout(database)
        try:
            await conn.command(conn.BEGIN_WRITE)
            result = await work(conn)
            await conn.command("COMMIT")
        except BaseException:
            try:
                await conn.command("ROLLBACK")
            except BaseException:
                await greenlet_spawn(pooled.invalidate)
                await _release(database, pooled, reset=True)
                raise
            await _release(database, pooled, reset=True)
            raise
        await _release(database, pooled, reset=False)
        return result


async def _in_writer_thread(
    database: Database, thread: WriterThread, writer: WriterTurn, work: Work[T]
) -> T:
    dialect = database.engine.dialect

    def run(connection: sqlite3.Connection) -> T:
        return _to_the_end(work(InlineSqliteDriver(connection, dialect)))

    return await writer.run(thread, run)


def _to_the_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (its driver answers at once) to its end, here."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return cast(T, finished.value)
    coroutine.close()
    raise RuntimeError("a transaction on the SQLite writer thread awaited something else")


@asynccontextmanager
async def reading(database: Database) -> AsyncIterator[Driver]:
    """A pooled driver connection for a read of the lean path, past SQLAlchemy's session and
    connection (their begin, commit and events were two thirds of a message page's CPU).

    A lean read is one statement (a second one only tells a 404 from an empty page), so it
    needs no transaction of its own. On PostgreSQL it leaves none open, and the connection goes
    back to the pool without the reset's rollback; MariaDB's driver opens one implicitly, which
    the reset ends. A connection whose statement failed always goes back through the reset,
    and is dropped when the failure says the database went away (or the reset fails too). A
    SQLite file is read on its inline connection, in this thread (decision 187), with no pool
    and no transaction left open.
    """
    if database.inline_reads is not None:
        reads = database.inline_reads
        yield InlineSqliteDriver(reads.connection(), database.engine.dialect, reads.lock)
        return
    async with autocommit(database) as conn:
        yield conn


@asynccontextmanager
async def autocommit(database: Database) -> AsyncIterator[Driver]:
    """A pooled driver connection for statements outside a transaction (see `reading`).

    On PostgreSQL a write statement sent here is its own transaction, atomic, committed before
    its answer comes back: no BEGIN and COMMIT round trips, and the locks it takes (the event
    writers' among them, decision 111) are held for the server's work alone, not while the
    answer travels back and the loop gets round to sending COMMIT (decision 191).
    """
    pooled, conn = await _checkout(database)
    try:
        yield conn
    except BaseException as error:
        if is_database_unavailable(error):
            # Likely a connection the server dropped: with no transaction open, the pool's
            # reset has nothing to roll back and would hand it out again, failing each time.
            await greenlet_spawn(pooled.invalidate)
        await _release(database, pooled, reset=True)
        raise
    await _release(database, pooled, reset=conn.dialect.name not in _NO_TRANSACTION_LEFT)


def envelope(message: str, data: Any) -> bytes:
    """The success envelope, byte for byte as the response models render it."""
    return orjson.dumps({"status": "success", "message": message, "data": data})
