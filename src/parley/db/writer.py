"""SQLite's one writer in a process: the writer turn every write transaction takes, and the
writer thread that runs the lean path's write transactions whole (decisions 009, 189)."""

import asyncio
import contextlib
import contextvars
import queue
import sqlite3
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000


def set_pragmas(connection: Any) -> None:
    """Every SQLite connection that writes: WAL, foreign keys, a wait for the write lock, and
    WAL's usual synchronous setting (no sync per commit, never a corrupt file)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# The most transactions one commit carries: enough to share a busy moment's pages, few enough
# that the first of them is not kept long.
GROUP_LIMIT = 32

Work = Callable[[sqlite3.Connection], T]


class _Member:
    """One queued transaction: its work, and where its outcome goes."""

    __slots__ = ("context", "future", "loop", "work")

    def __init__(self, work: Work[Any], future: "asyncio.Future[Any]") -> None:
        self.work = work
        self.future = future
        self.loop = future.get_loop()
        self.context = contextvars.copy_context()  # the caller's log fields

    def settle(self, error: BaseException | None, value: Any = None) -> None:
        # A closed loop has nobody waiting; the thread must go on serving the others.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_settle, self.future, error, value)


def _settle(future: "asyncio.Future[Any]", error: BaseException | None, value: Any) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class WriterThread:
    """A SQLite file's connection for the lean path's write transactions, and its own thread.

    A write transaction is a handful of statements of tens of microseconds each; sent one by
    one to a driver thread, each costs two GIL hand-overs and a wake-up of the loop. Here a
    whole transaction is one call to this thread, and the calls queue in order (decision 189).
    Those that queued while the thread was busy commit together (decision 193): one BEGIN
    IMMEDIATE, each in a savepoint of its own, so a refused one undoes only itself, and one
    COMMIT, whose page writes to the WAL were most of a text post's cost. Each caller hears of
    its transaction once that COMMIT is done. Waiting for another process's write lock blocks
    this thread, never the loop.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._queue: queue.SimpleQueue[_Member | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None  # started on first use, as the pool

    def connection(self) -> sqlite3.Connection:
        """The connection, opened on first use (call it on this thread)."""
        if self._connection is None:
            connection = sqlite3.connect(
                self._path,
                isolation_level=None,
                check_same_thread=False,
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            )
            set_pragmas(connection)
            self._connection = connection
        return self._connection

    def discard(self) -> None:
        """Close a connection left in an unknown state; the next call opens a new one."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    def submit(self, work: Work[T]) -> "asyncio.Future[T]":
        """`work(connection)` queued for this thread as one transaction."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
            self._thread.start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Member(work, future))
        return future

    async def close(self) -> None:
        """Close the connection and stop the thread; a later `submit` starts both again."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(thread.join)

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self.discard()
                return
            group = [first]
            while len(group) < GROUP_LIMIT:
                try:
                    member = self._queue.get_nowait()
                except queue.Empty:
                    break
                if member is None:
                    self._queue.put(None)  # close once this group is done
                    break
                group.append(member)
            self._commit(group)

    def _commit(self, group: list[_Member]) -> None:
        refusals: dict[int, Exception] = {}  # members whose work refused: only they undone
        values: list[Any] = []
        try:
            connection = self.connection()
            connection.execute("BEGIN IMMEDIATE")
            for index, member in enumerate(group):
                connection.execute("SAVEPOINT member")
                try:
                    values.append(member.context.run(member.work, connection))
                except Exception as refusal:
                    if not connection.in_transaction:
                        raise  # SQLite rolled the whole transaction back: the group failed
                    connection.execute("ROLLBACK TO member")
                    values.append(None)
                    refusals[index] = refusal
                connection.execute("RELEASE member")
            connection.execute("COMMIT")
        except BaseException as error:
            self._abandon()
            for index, member in enumerate(group):
                member.settle(refusals.get(index, error))
            return
        for index, member in enumerate(group):
            member.settle(refusals.get(index), values[index])

    def _abandon(self) -> None:
        connection = self._connection
        try:
            if connection is not None and connection.in_transaction:
                connection.execute("ROLLBACK")
        except BaseException:
            self.discard()  # its state unknown: the next group opens another


class _Run:
    """Writer-thread transactions sharing one hold of the turn."""

    __slots__ = ("members", "turn")

    def __init__(self, turn: "asyncio.Future[bool]") -> None:
        self.turn = turn  # done once the run holds the turn
        self.members = 0  # transactions in it that have not ended


class WriterTurn:
    """The process's writer turn on SQLite: one write transaction at a time, first come first
    served (an asyncio lock wakes its waiters in order; SQLite's busy handler does not).

    A session's transaction holds it as a lock (`acquire`/`release`). Writer-thread
    transactions (`run`) hold it together: while a run of them holds the turn and no session
    waits, a newcomer joins the run, so the thread goes from one to the next without waiting
    for the loop to hand the turn over (decision 189). Once a session waits, newcomers form the
    next run, which queues behind it.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._sessions_waiting = 0
        self._run: _Run | None = None

    async def acquire(self) -> None:
        self._sessions_waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._sessions_waiting -= 1

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, _type: type[BaseException] | None, _e: BaseException | None, _t: TracebackType | None
    ) -> None:
        self.release()

    async def run(self, thread: WriterThread, work: Work[T]) -> T:
        """`work(connection)` as a transaction on the writer thread, under the turn."""
        run = self._run
        if run is None or (run.turn.done() and self._sessions_waiting):
            run = self._run = _Run(asyncio.ensure_future(self._lock.acquire()))
        run.members += 1
        try:
            await asyncio.shield(run.turn)
        except BaseException:
            self._leave(run)
            raise
        done = thread.submit(work)

        def ended(_: "asyncio.Future[T]") -> None:
            self._leave(run)
            if not done.cancelled():
                done.exception()  # retrieved: a cancelled request no longer waits for it

        # The turn follows the thread's work, not the request: a cancelled request's
        # transaction still ends before the next writer begins.
        done.add_done_callback(ended)
        return await asyncio.shield(done)

    def _leave(self, run: _Run) -> None:
        run.members -= 1
        if run.members:
            return
        if self._run is run:
            self._run = None
        # Every member left: give the turn back, now or as soon as the run gets it.
        run.turn.add_done_callback(lambda _: self._lock.release())
