"""Rate limits on the `limits` library: in memory by default, in Redis when configured so that
every worker shares one budget.

When Redis cannot be reached, a limiter fails open to a per-process in-memory budget of the same
size instead of failing the request: the limit still holds per worker, and the shared budget
comes back by itself once Redis answers again (see docs/operations.md).

A shared fixed window is spent in leases (decision 185): a worker takes a hundredth of the
budget from Redis in one increment and spends it locally, so a busy client costs one round trip
per lease, not per request. Leased slots count as used, so the limit is never exceeded; a lease
a worker leaves unspent can only refuse a client early, by at most a hundredth per worker.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from parley.core.config import Settings

log = structlog.get_logger("parley.ratelimit")

# A limiter must never hold a request up for long: a Redis that does not answer within this
# time counts as down.
REDIS_TIMEOUT_S = 0.5
# While Redis is down, try it again at most this often rather than on every request.
RETRY_SHARED_STORAGE_AFTER_S = 5.0
# The share of a shared fixed window's budget a worker takes from Redis at a time.
LEASE_FRACTION = 100

_STORAGE_FAILURES = (StorageError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until the window frees a slot


def create_storage(redis_url: str | None) -> Storage:
    """Return Redis storage for the URL (short timeouts, errors wrapped), else memory."""
    if redis_url:
        return RedisStorage(
            f"async+{redis_url}",
            implementation="redispy",
            wrap_exceptions=True,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
    return MemoryStorage()


class Limiter:
    """A named budget of `count` events per `window_seconds` for each key.

    A moving window (the login-failure budget) uses the `limits` strategy. A fixed window
    (the per-request budget, checked on every request) is aligned to the clock, so one
    counter increment is the whole check: its reset time needs no second round trip.
    """

    def __init__(
        self, storage: Storage, *, count: int, window_seconds: int, namespace: str, moving: bool
    ) -> None:
        self.item: RateLimitItem = RateLimitItemPerSecond(count, window_seconds, namespace)
        self.namespace = namespace
        self.window_seconds = window_seconds
        self._moving = moving
        self._storage = storage
        # Only a remote storage can be away; the local fallback is made up front so that the
        # first failure costs nothing more than the failed call.
        self._local: Storage | None = (
            None if isinstance(storage, MemoryStorage) else MemoryStorage()
        )
        self._shared_down_until = 0.0
        self._lease_size = max(1, count // LEASE_FRACTION)
        self._lease_window = -1
        # Per key: the slot ranges [next, last] this worker has leased in the current window.
        self._leases: dict[str, list[list[int]]] = {}
        # Per key: the lease being taken from Redis, which other requests wait for.
        self._leasing: dict[str, asyncio.Future[None]] = {}

    @property
    def degraded(self) -> bool:
        """Tell whether the limiter is counting in this process only because Redis is away."""
        return time.monotonic() < self._shared_down_until

    async def aclose(self) -> None:
        """Close the Redis connections, if any; a memory storage holds none."""
        if isinstance(self._storage, RedisStorage):
            bridge: Any = self._storage.bridge
            await bridge.storage.aclose()

    async def hit(self, *keys: str) -> Verdict:
        """Count one event for the keys and tell whether it was within the budget."""
        return await self._run("hit", keys)

    async def test(self, *keys: str) -> Verdict:
        """Tell whether one more event would be within the budget, without counting it."""
        return await self._run("test", keys)

    async def _run(self, operation: Literal["hit", "test"], keys: tuple[str, ...]) -> Verdict:
        if self._local is not None and self.degraded:
            return await self._apply(self._local, operation, keys)
        try:
            verdict = await self._apply(self._storage, operation, keys)
        except _STORAGE_FAILURES as exc:
            if self._local is None:
                raise
            self._fall_back(exc)
            return await self._apply(self._local, operation, keys)
        if self._shared_down_until:
            self._shared_down_until = 0.0
            log.info("rate_limit_storage_recovered", limiter=self.namespace)
        return verdict

    def _fall_back(self, exc: BaseException) -> None:
        self._shared_down_until = time.monotonic() + RETRY_SHARED_STORAGE_AFTER_S
        log.warning(
            "rate_limit_storage_unavailable",
            limiter=self.namespace,
            error=type(exc).__name__,
            fallback="per-process memory",
            retry_in_s=RETRY_SHARED_STORAGE_AFTER_S,
        )

    async def _apply(
        self, storage: Storage, operation: Literal["hit", "test"], keys: tuple[str, ...]
    ) -> Verdict:
        if not self._moving:
            return await self._fixed_window(storage, operation, keys)
        strategy = MovingWindowRateLimiter(storage)
        if operation == "hit":
            allowed = await strategy.hit(self.item, *keys)
        else:
            allowed = await strategy.test(self.item, *keys)
        stats = await strategy.get_window_stats(self.item, *keys)
        reset_after = max(1, int(stats.reset_time - time.time() + 0.999))
        return Verdict(allowed, self.item.amount, max(0, stats.remaining), reset_after)

    async def _fixed_window(
        self, storage: Storage, operation: Literal["hit", "test"], keys: tuple[str, ...]
    ) -> Verdict:
        now = time.time()
        window = int(now // self.window_seconds)
        key = f"{self.item.key_for(*keys)}/{window}"
        limit = self.item.amount
        # The slot in the window's budget this event takes (a test: would take).
        if storage is self._storage and self._local is not None:
            slot = await self._leased(storage, operation, key, window)
        elif operation == "hit":
            slot = await storage.incr(key, self.window_seconds)
        else:
            slot = await storage.get(key) + 1
        used = slot if operation == "hit" else slot - 1
        reset_after = max(1, int((window + 1) * self.window_seconds - now + 0.999))
        return Verdict(slot <= limit, limit, max(0, limit - used), reset_after)

    async def _leased(
        self, storage: Storage, operation: Literal["hit", "test"], key: str, window: int
    ) -> int:
        """The slot this event takes (or would take) in a shared window, spending the worker's
        lease first and taking a new lease from Redis when it has none left.

        One request at a time takes a key's lease: a burst that finds none waits for it rather
        than each taking a lease of its own, which would count as used slots nobody spends.
        """
        if window != self._lease_window:
            self._leases.clear()  # leases of a past window are void
            self._lease_window = window
        while True:
            ranges = self._leases.get(key)
            if ranges:
                slot = ranges[0][0]
                if operation == "hit":
                    ranges[0][0] += 1
                    if ranges[0][0] > ranges[0][1]:
                        del ranges[0]
                return slot
            if operation == "test":
                return await storage.get(key) + 1
            leasing = self._leasing.get(key)
            if leasing is None:
                break
            await asyncio.shield(leasing)  # taken or failed: look again either way
        leasing = asyncio.get_running_loop().create_future()
        self._leasing[key] = leasing
        try:
            last = await storage.incr(key, self.window_seconds, amount=self._lease_size)
            first = last - self._lease_size + 1
            usable = min(last, self.item.amount)
            if first < usable and window == self._lease_window:
                self._leases.setdefault(key, []).append([first + 1, usable])
            return first
        finally:
            del self._leasing[key]
            leasing.set_result(None)


def request_limiter(settings: Settings) -> Limiter:
    """The per-client request budget: RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW."""
    return Limiter(
        create_storage(settings.redis_url),
        count=settings.rate_limit_max,
        window_seconds=settings.rate_limit_window,
        namespace="requests",
        moving=False,  # a fixed window gives clients a clear RateLimit-Reset
    )
