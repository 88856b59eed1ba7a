"""A small cache of live login sessions, so most authenticated requests skip the database.

Revocation, role changes, disabling and profile changes drop the user's entries at once: in
this process directly, and in every other worker through a Redis channel when one is
configured. Without Redis the cache runs only in a single-worker process; with Redis it turns
itself off (and empties) whenever the channel is lost, so a revoked session can never come
back from a stale entry: the database stays the truth.
"""

import asyncio
import contextlib
import time
from uuid import UUID

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from parley.models.user import User

log = structlog.get_logger("parley.auth")

CHANNEL = "parley:access-invalidations"
DEFAULT_TTL_S = 60.0
MAX_ENTRIES = 10_000
RECONNECT_DELAY_S = 1.0


class AccessCache:
    def __init__(
        self, *, redis_url: str | None, single_worker: bool, ttl: float = DEFAULT_TTL_S
    ) -> None:
        self._redis_url = redis_url
        self._ttl = ttl
        self._entries: dict[UUID, tuple[float, User]] = {}
        # Usable at once in a lone process; a Redis-backed cache waits for its subscription.
        self._active = redis_url is None and single_worker
        self._listener: asyncio.Task[None] | None = None
        self._redis: Redis | None = None
        # Bumped by every invalidation: an entry read from the database before an
        # invalidation must not be stored after it.
        self.epoch = 0

    @property
    def active(self) -> bool:
        return self._active

    def get(self, login_session_id: UUID, user_id: UUID) -> User | None:
        if not self._active:
            return None
        entry = self._entries.get(login_session_id)
        if entry is None or entry[0] < time.monotonic() or entry[1].id != user_id:
            return None
        return entry[1]

    def put(
        self, login_session_id: UUID, user: User, *, session_expires_in: float, epoch: int
    ) -> None:
        """Remember a live session, unless an invalidation happened since `epoch` was read."""
        if not self._active or epoch != self.epoch:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.pop(next(iter(self._entries)))
        ttl = min(self._ttl, max(session_expires_in, 0.0))
        self._entries[login_session_id] = (time.monotonic() + ttl, user)

    async def invalidate_user(self, user_id: UUID) -> None:
        """Forget every cached session of the user, here and in the other workers."""
        self._drop_user(user_id)
        if self._redis is not None:
            try:
                await self._redis.publish(CHANNEL, str(user_id))
            except RedisError:
                log.warning("access_invalidation_not_published", user_id=str(user_id))

    def _drop_user(self, user_id: UUID) -> None:
        self.epoch += 1
        for sid in [sid for sid, (_, user) in self._entries.items() if user.id == user_id]:
            self._entries.pop(sid, None)

    async def start(self) -> None:
        if self._redis_url is not None:
            self._redis = Redis.from_url(
                self._redis_url, socket_timeout=2, socket_connect_timeout=2
            )
            self._listener = asyncio.create_task(self._listen(self._redis_url))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()

    async def _listen(self, redis_url: str) -> None:
        # No read timeout: the channel is quiet for long stretches; a dropped connection
        # still ends the read at once, and keepalive catches a silent peer.
        subscriber = Redis.from_url(redis_url, socket_connect_timeout=2, socket_keepalive=True)
        while True:
            try:
                async with subscriber.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._active = True
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._drop_user(UUID(message["data"].decode()))
            except (RedisError, OSError, ValueError):
                log.warning("access_cache_disabled", reason="invalidation channel lost")
            except asyncio.CancelledError:
                await subscriber.aclose()
                raise
            self._active = False
            self._entries.clear()
            await asyncio.sleep(RECONNECT_DELAY_S)
