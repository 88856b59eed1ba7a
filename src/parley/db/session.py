"""The database session: on SQLite, write transactions take turns, first come first served.

SQLite has one write lock per file, and writers that wait for it in its busy handler are served
in no order: under load some wait for seconds while later ones go first. So within a process a
write transaction first queues for the process's writer turn (db/writer.py, which wakes its
waiters in order) and only then begins, `BEGIN IMMEDIATE`, holding the write lock before it reads
anything. Between processes the busy timeout still applies; with one writer per process it is
ample. PostgreSQL and MariaDB lock rows, not the database, and keep their concurrency.

A transaction becomes a write transaction at its first write (an INSERT, UPDATE or DELETE, or a
flush or commit with pending changes), or when a repository asks for it before a locking read.
By the rule of decision 009 that first write is the transaction's first statement.
"""

import traceback
import warnings
from typing import Any

from sqlalchemy import Executable, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from parley.db.writer import WriterTurn

# Set on a connection's execution options so that its `begin` event issues BEGIN IMMEDIATE.
WRITE_TRANSACTION = "parley_write_transaction"
_WRITER = "parley.writer"
_HOLDS_WRITER = "parley.holds_writer"
_CONNECTED = "parley.connected"  # the transaction has begun on a connection


class ReadThenWriteWarning(RuntimeWarning):
    """A SQLite transaction that began with a read is about to write: if another writer
    commits in between, SQLite refuses the write at once ("database is locked"), with no
    wait. Such a use case must begin its write first (`begin_write`, decision 009); the test
    suite turns this warning into an error so that none is left."""


class DatabaseSession(AsyncSession):
    """An AsyncSession that knows whether its transaction writes."""

    def __init__(self, *args: Any, writer: WriterTurn | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sync_session.info[_WRITER] = writer

    @property
    def _writer(self) -> WriterTurn | None:
        writer: WriterTurn | None = self.sync_session.info[_WRITER]
        return writer

    async def begin_write(self) -> None:
        """Make this transaction a write transaction before its first statement.

        On SQLite: wait for the process's writer turn, then begin IMMEDIATE. Elsewhere: nothing.
        """
        writer = self._writer
        info = self.sync_session.info
        if writer is None or info.get(_HOLDS_WRITER):
            return
        started = bool(info.get(_CONNECTED))  # a read began it: too late for IMMEDIATE (009)
        if started:
            warnings.warn(_read_then_write_message(), ReadThenWriteWarning, stacklevel=2)
        await writer.acquire()
        info[_HOLDS_WRITER] = True
        if not started:
            try:
                await self.connection(execution_options={WRITE_TRANSACTION: True})
            except BaseException:
                _release_writer(self.sync_session)
                raise

    async def execute(self, statement: Executable, *args: Any, **kwargs: Any) -> Any:
        if getattr(statement, "is_dml", False):
            await self.begin_write()
        return await super().execute(statement, *args, **kwargs)

    async def scalar(self, statement: Executable, *args: Any, **kwargs: Any) -> Any:
        if getattr(statement, "is_dml", False):
            await self.begin_write()
        return await super().scalar(statement, *args, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        if self._has_pending_changes():
            await self.begin_write()
        await super().flush(objects)

    async def commit(self) -> None:
        if self._has_pending_changes():
            await self.begin_write()
        await super().commit()

    def _has_pending_changes(self) -> bool:
        return bool(self.new or self.dirty or self.deleted)


async def begin_write(session: AsyncSession) -> None:
    """Make the session's transaction a write transaction, when the session can tell."""
    if isinstance(session, DatabaseSession):
        await session.begin_write()


def _read_then_write_message() -> str:
    callers = [
        f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_stack()
        if "/parley/" in frame.filename and "/parley/db/" not in frame.filename
    ]
    return "a write in a transaction a read began: " + " <- ".join(reversed(callers))


def _release_writer(session: Session) -> None:
    if session.info.pop(_HOLDS_WRITER, False):
        writer: WriterTurn = session.info[_WRITER]
        writer.release()


@event.listens_for(Session, "after_begin")
def _note_connection(session: Session, _transaction: SessionTransaction, _connection: Any) -> None:
    # A session's transaction begins before its first statement (an `add` begins it); only a
    # transaction on a connection has read anything.
    session.info[_CONNECTED] = True


@event.listens_for(Session, "after_transaction_end")
def _end_write_turn(session: Session, transaction: SessionTransaction) -> None:
    # Committed or rolled back: the next writer in line may begin.
    if transaction.parent is None:
        session.info.pop(_CONNECTED, None)
        _release_writer(session)
