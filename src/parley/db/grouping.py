"""Writes that queue while one is in flight go to the database together (decision 195).

Where every write of a kind must pass one serial point in the database (PostgreSQL's event
writers' lock, held through the commit's WAL flush: decision 111), each one pays that flush
alone and the next waits for it. A `Group` sends the first write at once; the writes that
arrive meanwhile wait for it and then go as the next group, in one statement and one commit,
so one flush serves them all. A lone write is not delayed.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Each group's results, one per item and in their order: a value, or the exception that item
# alone failed with.
Run = Callable[[list[Item]], Awaitable[list[Result | BaseException]]]


class Group(Generic[Item, Result]):
    """One kind of write sent in groups, one group in flight at a time."""

    def __init__(self, run: Run[Item, Result], *, limit: int) -> None:
        self._run = run
        self._limit = limit
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Send item with the next group; its result, or the error of its group or its own.

        A caller cancelled while it waits does not take its write back: the group commits it
        (as a cancelled request's single write would still commit once sent).
        """
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        group: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                group = self._waiting[: self._limit]
                del self._waiting[: self._limit]
                try:
                    results = await self._run([item for item, _ in group])
                except Exception as error:  # the whole group failed: each caller is told
                    results = [error] * len(group)
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                group = []
        finally:
            self._sender = None
            # Left only when this task was cancelled (the loop is closing): nobody will send it.
            for _, future in [*group, *self._waiting]:
                if not future.done():
                    future.cancel()
            self._waiting.clear()
