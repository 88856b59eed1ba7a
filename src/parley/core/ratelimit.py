"""Rate limits on the `limits` library: in memory by default, in Redis when configured so that
every worker shares one budget."""

import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter

log = structlog.get_logger("parley.ratelimit")


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until the window frees a slot


def create_storage(redis_url: str | None) -> Storage:
    if redis_url:
        return RedisStorage(f"async+{redis_url}", implementation="redispy")
    return MemoryStorage()


class Limiter:
    """A named budget of `count` events per `window_seconds` for each key."""

    def __init__(
        self, storage: Storage, *, count: int, window_seconds: int, namespace: str, moving: bool
    ) -> None:
        self.item: RateLimitItem = RateLimitItemPerSecond(count, window_seconds, namespace)
        strategy = MovingWindowRateLimiter if moving else FixedWindowRateLimiter
        self._limiter: RateLimiter = strategy(storage)

    async def hit(self, *keys: str) -> Verdict:
        """Count one event for the keys and tell whether it was within the budget."""
        allowed = await self._limiter.hit(self.item, *keys)
        return await self._verdict(allowed, keys)

    async def test(self, *keys: str) -> Verdict:
        """Tell whether one more event would be within the budget, without counting it."""
        allowed = await self._limiter.test(self.item, *keys)
        return await self._verdict(allowed, keys)

    async def _verdict(self, allowed: bool, keys: tuple[str, ...]) -> Verdict:
        stats = await self._limiter.get_window_stats(self.item, *keys)
        reset_after = max(1, int(stats.reset_time - time.time() + 0.999))
        return Verdict(allowed, self.item.amount, max(0, stats.remaining), reset_after)
