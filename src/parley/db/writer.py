"""SQLite's one writer in a process: the writer turn every write transaction takes, and the
writer thread that runs the lean path's write transactions whole (decisions 009, 189)."""

import asyncio
import contextvars
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


class WriterThread:
    """A SQLite file's connection for the lean path's write transactions, and its own thread.

    A write transaction is a handful of statements of tens of microseconds each; sent one by
    one to a driver thread, each costs two GIL hand-overs and a wake-up of the loop. Here a
    whole transaction (BEGIN IMMEDIATE to COMMIT) is one call to this thread, and the calls
    queue in order. Waiting for another process's write lock blocks this thread, never the
    loop.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None  # started on first use, as the pool

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

    def submit(self, call: Callable[[], T]) -> "asyncio.Future[T]":
        """`call()` queued for this thread, with the caller's context variables (log fields)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(self._executor, context.run, call)

    async def close(self) -> None:
        """Close the connection and stop the thread; a later `submit` starts both again."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self.discard)
            executor.shutdown(wait=True)


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

    async def run(self, thread: WriterThread, call: Callable[[], T]) -> T:
        """`call()` on the writer thread, under the turn."""
        run = self._run
        if run is None or (run.turn.done() and self._sessions_waiting):
            run = self._run = _Run(asyncio.ensure_future(self._lock.acquire()))
        run.members += 1
        try:
            await asyncio.shield(run.turn)
        except BaseException:
            self._leave(run)
            raise
        done = thread.submit(call)

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
