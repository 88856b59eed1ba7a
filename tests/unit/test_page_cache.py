"""The page cache's messages on the channel, without Redis: the channel is an access cache whose
messages come back the way Redis hands them back, only late, and a fake clock drives its trust."""

import asyncio
from uuid import UUID, uuid4

import pytest

from parley.chats import page_cache
from parley.chats.page_cache import SETTLE_S, PageCache
from parley.logins.cache import TOPIC_SEPARATOR, AccessCache
from tests.unit.test_access_cache import REDIS_URL, FakeClock


class LateChannel(AccessCache):
    """Hands each published message back to this worker two loop turns after it was sent, and
    keeps what a listener raised (on a real channel it would end the listening task)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(redis_url=REDIS_URL, single_worker=False, clock=clock)
        self.failures: list[BaseException] = []
        self.receive(self.heartbeat())  # trusted from now

    async def publish(self, topic: bytes, payload: bytes) -> bool:
        loop = asyncio.get_running_loop()
        loop.call_soon(loop.call_soon, self._deliver, topic + TOPIC_SEPARATOR + payload)
        return True

    def _deliver(self, message: bytes) -> None:
        try:
            self.receive(message)
        except Exception as error:  # the tests assert there is none
            self.failures.append(error)


@pytest.fixture
def channel() -> LateChannel:
    """A channel trusted long enough for pages to be kept."""
    clock = FakeClock()
    channel = LateChannel(clock)
    clock.advance(SETTLE_S)
    return channel


async def _turns(count: int = 3) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def _from_another_worker(session: UUID) -> bytes:
    return page_cache.TOPIC + TOPIC_SEPARATOR + b"another-1 " + str(session).encode()


async def test_an_echo_after_its_writer_stopped_waiting_is_ignored(
    channel: LateChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = PageCache(channel)
    session = uuid4()
    # The writer waits no time at all: its own message comes back after it gave up.
    monkeypatch.setattr(page_cache, "ECHO_TIMEOUT_S", 0)
    await pages.changed(session)
    await _turns()
    assert channel.failures == []
    # The listener still hears the other workers' changes.
    before = pages.version(session)
    channel.receive(_from_another_worker(session))
    assert pages.version(session) != before


async def test_a_writer_answers_once_its_message_came_back(
    channel: LateChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = PageCache(channel)
    session = uuid4()
    before = pages.version(session)
    # Were its message not known back, the writer would wait an hour.
    monkeypatch.setattr(page_cache, "ECHO_TIMEOUT_S", 3600)
    writer = asyncio.create_task(pages.changed(session))
    await _turns(20)
    assert writer.done() and channel.failures == []
    # Its own message did not count its change twice.
    version = pages.version(session)
    assert version is not None and before is not None and version[1] == before[1] + 1
