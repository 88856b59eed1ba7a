"""The doorbell: wakes this process's event streams when events may have been committed.

The log is the truth; the bell only says "read it now". A commit rings this process's bell
directly and, when REDIS_URL is set, every other worker's through a Redis channel. A lost ring
costs latency, never an event: streams re-read the log on a short poll whenever the bell cannot
be trusted to ring (no channel, or the channel lost), and on a longer one otherwise.
"""

import asyncio
import contextlib
import os
import uuid

import structlog
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

log = structlog.get_logger("parley.events")

CHANNEL = "parley:events"
REDIS_TIMEOUT_S = 0.5
RECONNECT_DELAY_S = 0.5
# How often a stream reads the log with no ring: when the bell may miss rings, and when not.
UNTRUSTED_POLL_S = 1.0
TRUSTED_POLL_S = 5.0
# The least time between two publishes: under a steady stream of commits one publish tells a
# few milliseconds' worth of them (a lone commit is still told at once).
PUBLISH_INTERVAL_S = 0.005


class Doorbell:
    def __init__(self, *, redis_url: str | None, single_worker: bool) -> None:
        self._redis_url = redis_url
        # Without Redis, only a process that serves alone hears every commit.
        self._trusted = redis_url is None and single_worker
        self._origin = f"{os.getpid()}:{uuid.uuid4().hex}".encode()
        self._rung = asyncio.Event()
        self._redis: Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # One publisher at a time: rings while it publishes, or in the pause after, make it
        # publish once more, so a burst of commits costs two round trips to Redis, not one each.
        self._publisher: asyncio.Task[None] | None = None
        self._publish_wanted = False

    @property
    def poll_interval(self) -> float:
        """How long a stream may wait for a ring before it reads the log anyway."""
        return TRUSTED_POLL_S if self._trusted else UNTRUSTED_POLL_S

    def current(self) -> asyncio.Event:
        """Take this before reading the log; `wait` on it afterwards, so no ring in between is
        missed."""
        return self._rung

    async def wait(self, rung: asyncio.Event, seconds: float) -> bool:
        """Wait for a ring after `rung` was taken, at most `seconds`; True if it rang."""
        try:
            async with asyncio.timeout(seconds):
                await rung.wait()
        except TimeoutError:
            return False
        return True

    def _wake(self) -> None:
        rung, self._rung = self._rung, asyncio.Event()
        rung.set()

    def ring(self) -> None:
        """Events were committed here: wake this process's streams and tell the others."""
        self._wake()
        if self._redis is not None:
            self._publish_wanted = True
            if self._publisher is None:
                self._publisher = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        # Each publish starts after every ring seen before it: no commit goes untold.
        try:
            while self._publish_wanted and self._redis is not None:
                self._publish_wanted = False
                try:
                    async with asyncio.timeout(REDIS_TIMEOUT_S):
                        await self._redis.publish(CHANNEL, self._origin)
                except (RedisError, OSError, TimeoutError):
                    pass  # the other workers' streams poll the log meanwhile
                await asyncio.sleep(PUBLISH_INTERVAL_S)
        finally:
            self._publisher = None

    async def start(self) -> None:
        if self._redis_url is not None:
            self._redis = _connect(self._redis_url)
            self._tasks = [asyncio.create_task(self._listen(self._redis_url))]

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._publisher] if self._publisher else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        self._wake()

    async def _listen(self, redis_url: str) -> None:
        subscriber = _connect(redis_url)
        try:
            while True:
                try:
                    async with subscriber.pubsub() as pubsub:
                        async with asyncio.timeout(REDIS_TIMEOUT_S):
                            await pubsub.subscribe(CHANNEL)
                        self._trusted = True
                        self._wake()  # rings may have been missed while unsubscribed
                        async for message in pubsub.listen():
                            if message.get("type") == "message" and message["data"] != self._origin:
                                self._wake()
                except (RedisError, OSError, ValueError, TimeoutError):
                    pass
                if self._trusted:
                    log.warning("event_channel_lost")
                self._trusted = False
                await asyncio.sleep(RECONNECT_DELAY_S)
        finally:
            self._trusted = False
            await subscriber.aclose()


def _connect(redis_url: str) -> Redis:
    return Redis.from_url(
        redis_url,
        socket_timeout=None,  # the subscriber blocks on the channel; the poll covers a hang
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
    )
