"""A small cache of live login sessions, so most authenticated requests skip the database.

Revocation, role changes, disabling and profile changes drop the user's entries at once: in
this process directly, and in every other worker through a Redis channel when one is
configured. Without Redis the cache runs only in a single-worker process.

With Redis, the cache is trusted only while it can prove that it hears the channel: each
worker publishes a heartbeat on it every HEARTBEAT_INTERVAL_S, and its cache answers only
until TRUST_WINDOW_S after sending the last heartbeat of its own that came back. Redis delivers
a server's messages in order, so a returned heartbeat proves that every invalidation published
before it was seen. Stopped, hung, slow or restarted, a Redis that cannot return heartbeats
makes the cache step aside within the window (requests then read the database, the truth),
and the cache empties before it is trusted again, since messages may have been lost meanwhile.

Other caches of the process ride on the same channel and its trust (`follow`): a topic's
messages go to its listener, which also hears when a user is deleted or the cache starts over.
"""

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from parley.models.user import User

log = structlog.get_logger("parley.auth")

CHANNEL = "parley:access-invalidations"
DEFAULT_TTL_S = 60.0
MAX_ENTRIES = 10_000
HEARTBEAT_INTERVAL_S = 0.5
# A heartbeat proves the channel live for this long after it was sent: at most 1.5 s pass
# before a worker that hears nothing stops trusting its cache, well inside the 2 s promise.
TRUST_WINDOW_S = 1.5
# Every Redis call is bounded by this, so a hung Redis never stalls a request for long.
REDIS_TIMEOUT_S = 0.5
RECONNECT_DELAY_S = 0.5
HEARTBEAT_PREFIX = b"heartbeat:"
# A follower's messages are its topic, this separator, and its payload (a user id has none).
TOPIC_SEPARATOR = b":"
# Before a user id: the user is gone, and what other caches keep of its data must go too.
DELETED_PREFIX = b"deleted:"

T = TypeVar("T")


class AccessCache:
    def __init__(
        self,
        *,
        redis_url: str | None,
        single_worker: bool,
        ttl: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis_url = redis_url
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[UUID, tuple[float, User]] = {}
        # The same live entries found by the access token itself, so a request whose token
        # is remembered costs one look-up and one clock read (see remember_token).
        self._tokens: dict[str, tuple[float, User, UUID]] = {}
        # Trusted for good in a lone process; a Redis-backed cache waits for its heartbeats.
        self._trusted_until = math.inf if redis_url is None and single_worker else -math.inf
        # When the cache last became trusted (after a gap, or at start).
        self._trusted_since = -math.inf if redis_url is None and single_worker else math.inf
        # When this worker's last heartbeat was sent, if Redis found no other worker listening.
        self._alone_at = -math.inf
        self._announced_trusted = False
        # Tells this cache's heartbeats from those of the other workers on the channel.
        self._instance = uuid.uuid4().hex.encode()
        self._tasks: list[asyncio.Task[None]] = []
        self._redis: Redis | None = None
        # Bumped by every invalidation: an entry read from the database before an
        # invalidation must not be stored after it.
        self.epoch = 0
        # Reads of a credential in flight, by credential and epoch (see shared_read).
        self._reading: dict[tuple[Hashable, int], asyncio.Future[Any]] = {}
        self._followers: dict[bytes, Callable[[bytes | None], None]] = {}

    @property
    def active(self) -> bool:
        return self._clock() < self._trusted_until

    @property
    def publishes(self) -> bool:
        """Whether other workers hear this one's messages (a Redis channel is configured)."""
        return self._redis_url is not None

    def trusted_for(self, seconds: float) -> bool:
        """Whether the cache is trusted and has been for `seconds` without a gap."""
        now = self._clock()
        return now < self._trusted_until and now - self._trusted_since >= seconds

    def alone_within(self, seconds: float) -> bool:
        """Whether this trusted worker's heartbeat, sent less than `seconds` ago, was the only
        one to reach a listener: no other worker heard the channel then. A worker that begins
        to listen later is trusted only after its own heartbeat comes back; if it then waits
        `seconds` before keeping anything, it keeps nothing read before this moment."""
        now = self._clock()
        return now < self._trusted_until and now - self._alone_at < seconds

    def follow(self, topic: bytes, listener: Callable[[bytes | None], None]) -> None:
        """Hand `listener` the payload of each message on `topic`, this worker's own included,
        and None whenever a user is deleted or this cache starts over after a gap in the
        channel: what the listener keeps may hold a deleted user's data, and messages may have
        been lost."""
        self._followers[topic] = listener

    async def publish(self, topic: bytes, payload: bytes) -> bool:
        """Tell every worker's listener of `topic` (see `follow`); False if Redis did not take
        it (the other workers then stop trusting the channel, as for a lost invalidation)."""
        if self._redis is None:
            return self._redis_url is None
        return await self._publish(topic + TOPIC_SEPARATOR + payload)

    def get(self, login_session_id: UUID, user_id: UUID) -> User | None:
        now = self._clock()
        if now >= self._trusted_until:
            return None
        entry = self._entries.get(login_session_id)
        if entry is None or entry[0] <= now or entry[1].id != user_id:
            return None
        return entry[1]

    async def shared_read(self, credential: Hashable, read: Callable[[int], Awaitable[T]]) -> T:
        """`read(epoch)`, the database's word on a credential the cache does not hold, run
        once for all the requests that ask for the same credential at once (decision 201).

        When a busy token's entry expired, every request in flight with it read the database
        together, and at 64 connections the last of them waited a second behind the rest.
        A read is shared only within the epoch it began in: a request that comes after an
        invalidation reads afresh. An untrusted cache shares nothing: each request reads.
        """
        epoch = self.epoch
        if not self.active:
            return await read(epoch)
        key = (credential, epoch)
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(read(epoch))
            self._reading[key] = reading
            reading.add_done_callback(partial(self._read_done, key))
        # Shielded: a request that leaves (its client gone) must not end the others' read.
        result: T = await asyncio.shield(reading)
        return result

    def _read_done(self, key: tuple[Hashable, int], reading: "asyncio.Future[Any]") -> None:
        del self._reading[key]
        if not reading.cancelled():
            reading.exception()  # marked retrieved: the requests that waited have raised it

    def get_by_token(self, token: str) -> tuple[User, UUID] | None:
        """The user and login session of a token remembered by `remember_token`, while live."""
        entry = self._tokens.get(token)
        if entry is None:
            return None
        now = self._clock()
        if now >= entry[0] or now >= self._trusted_until:
            return None
        return entry[1], entry[2]

    def remember_token(self, token: str, login_session_id: UUID, *, expires_in: float) -> None:
        """Let a verified access token find its session's live entry directly, for no longer
        than the entry or the token lives; invalidations drop it with the entry."""
        now = self._clock()
        entry = self._entries.get(login_session_id)
        if entry is None or entry[0] <= now or now >= self._trusted_until:
            return
        if len(self._tokens) >= MAX_ENTRIES:
            self._tokens.pop(next(iter(self._tokens)))
        self._tokens[token] = (min(entry[0], now + expires_in), entry[1], login_session_id)

    def put(
        self, login_session_id: UUID, user: User, *, session_expires_in: float, epoch: int
    ) -> None:
        """Remember a live session, unless an invalidation happened since `epoch` was read."""
        now = self._clock()
        if now >= self._trusted_until or epoch != self.epoch:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.pop(next(iter(self._entries)))
        ttl = min(self._ttl, max(session_expires_in, 0.0))
        self._entries[login_session_id] = (now + ttl, user)

    async def invalidate_user(self, user_id: UUID, *, deleted: bool = False) -> None:
        """Forget every cached session of the user, here and in the other workers; a deleted
        user's data goes from the followers' caches too."""
        self._drop_user(user_id, deleted=deleted)
        message = (DELETED_PREFIX if deleted else b"") + str(user_id).encode()
        if self._redis is not None and not await self._publish(message):
            # The other workers stop trusting their caches when heartbeats fail to return.
            log.warning("access_invalidation_not_published", user_id=str(user_id))

    def heartbeat(self) -> bytes:
        """A heartbeat message of this cache, stamped with the time it is sent."""
        return HEARTBEAT_PREFIX + self._instance + b" " + repr(self._clock()).encode()

    def receive(self, message: bytes) -> None:
        """Act on a message of the channel: a heartbeat or a user to forget."""
        if message.startswith(HEARTBEAT_PREFIX):
            instance, _, sent_at = message.removeprefix(HEARTBEAT_PREFIX).partition(b" ")
            if instance == self._instance:
                self._renew_trust(float(sent_at))
            return
        if message.startswith(DELETED_PREFIX):
            self._drop_user(UUID(message.removeprefix(DELETED_PREFIX).decode()), deleted=True)
            return
        topic, separator, payload = message.partition(TOPIC_SEPARATOR)
        if separator:
            listener = self._followers.get(topic)
            if listener is not None:
                listener(payload)
        else:
            self._drop_user(UUID(message.decode()))

    def channel_lost(self) -> None:
        """Stop trusting at once: messages published while disconnected are lost."""
        self._trusted_until = -math.inf
        self._announce(trusted=False, reason="invalidation channel lost")

    def _renew_trust(self, sent_at: float) -> None:
        now = self._clock()
        until = sent_at + TRUST_WINDOW_S
        if until <= now:
            return  # came back too late to prove anything
        if now >= self._trusted_until:
            # After a gap, invalidations may have been missed: start empty.
            self._announce(trusted=False, reason="no heartbeat came back in time")
            self._entries.clear()
            self._tokens.clear()
            self.epoch += 1
            self._tell_followers()
            self._trusted_since = now
            self._announce(trusted=True, reason="heartbeat came back")
        self._trusted_until = max(self._trusted_until, until)

    def _announce(self, *, trusted: bool, reason: str) -> None:
        """Log each change of trust once, not once per request."""
        if trusted != self._announced_trusted:
            self._announced_trusted = trusted
            event = "access_cache_trusted" if trusted else "access_cache_untrusted"
            (log.info if trusted else log.warning)(event, reason=reason)

    def _drop_user(self, user_id: UUID, *, deleted: bool = False) -> None:
        self.epoch += 1
        for sid in [sid for sid, (_, user) in self._entries.items() if user.id == user_id]:
            self._entries.pop(sid, None)
        for token in [token for token, (_, user, _) in self._tokens.items() if user.id == user_id]:
            self._tokens.pop(token, None)
        if deleted:
            self._tell_followers()

    def _tell_followers(self) -> None:
        for listener in self._followers.values():
            listener(None)

    async def start(self) -> None:
        if self._redis_url is not None:
            self._redis = _connect(self._redis_url)
            self._tasks = [
                asyncio.create_task(self._listen(self._redis_url)),
                asyncio.create_task(self._beat()),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._redis is not None:
            await self._redis.aclose()

    async def _publish(self, message: bytes) -> bool:
        return await self._publish_to(message) is not None

    async def _publish_to(self, message: bytes) -> int | None:
        """How many listeners Redis handed the message to; None if it did not take it."""
        assert self._redis is not None
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                receivers: int = await self._redis.publish(CHANNEL, message)
        except (RedisError, OSError, TimeoutError):
            return None
        return receivers

    async def _beat(self) -> None:
        while True:
            if not self.active:
                self._announce(trusted=False, reason="no heartbeat came back in time")
            sent_at = self._clock()
            receivers = await self._publish_to(self.heartbeat())
            # Only this worker's own listener heard it: no other worker listens.
            self._alone_at = sent_at if receivers == 1 and self.active else -math.inf
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)

    async def _listen(self, redis_url: str) -> None:
        # The blocking read has no timeout (the heartbeats tell whether the channel is live);
        # the connection and the subscription are bounded like every other call.
        subscriber = _connect(redis_url)
        try:
            while True:
                try:
                    async with subscriber.pubsub() as pubsub:
                        async with asyncio.timeout(REDIS_TIMEOUT_S):
                            await pubsub.subscribe(CHANNEL)
                        async for message in pubsub.listen():
                            if message.get("type") == "message":
                                self.receive(message["data"])
                except (RedisError, OSError, ValueError, TimeoutError):
                    pass
                self.channel_lost()
                await asyncio.sleep(RECONNECT_DELAY_S)
        finally:
            await subscriber.aclose()


def _connect(redis_url: str) -> Redis:
    # No retries: a silent reconnection of the subscriber would hide a gap in the channel.
    return Redis.from_url(
        redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
    )
