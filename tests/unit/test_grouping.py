"""Writes sent in groups (db/grouping.py): who goes together, and what each caller is told."""

import asyncio

import pytest

from parley.db.grouping import Group


class Recorder:
    """A group runner that answers each item doubled, or fails the ones it is told to."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()

    async def run(self, items: list[int]) -> list[int | BaseException]:
        self.groups.append(items)
        await self.release.wait()
        if 0 in items:
            raise ConnectionError("the whole group failed")
        return [ValueError(n) if n < 0 else n * 2 for n in items]


async def test_what_arrives_while_a_group_is_in_flight_goes_next_together() -> None:
    recorder = Recorder()
    group: Group[int, int] = Group(recorder.run, limit=3)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)
    later = [asyncio.create_task(group.submit(n)) for n in (2, 3, 4, 5)]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await asyncio.gather(first, *later) == [2, 4, 6, 8, 10]
    assert recorder.groups == [[1], [2, 3, 4], [5]]


async def test_each_caller_is_told_its_own_failure_or_its_groups() -> None:
    recorder = Recorder()
    recorder.release.set()
    group: Group[int, int] = Group(recorder.run, limit=10)
    results = await asyncio.gather(
        group.submit(1), group.submit(-1), group.submit(2), return_exceptions=True
    )
    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], ValueError)
    failed = await asyncio.gather(group.submit(0), group.submit(3), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in failed)
    assert await group.submit(4) == 8  # a failed group does not stop the next


async def test_a_cancelled_caller_does_not_take_its_write_back() -> None:
    recorder = Recorder()
    group: Group[int, int] = Group(recorder.run, limit=10)
    waiting = asyncio.create_task(group.submit(1))
    other = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    recorder.release.set()
    assert await other == 4
    assert recorder.groups == [[1, 2]]
