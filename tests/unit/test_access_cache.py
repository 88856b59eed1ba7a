"""The access cache's rules, without a database or Redis: a fake clock drives its trust."""

from uuid import UUID, uuid4

import pytest

from parley.logins.cache import TRUST_WINDOW_S, AccessCache
from parley.models.user import User

REDIS_URL = "redis://127.0.0.1:1/0"  # never connected: these tests feed the channel by hand


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> AccessCache:
    """A Redis-backed cache whose channel has just proved live."""
    cache = AccessCache(redis_url=REDIS_URL, single_worker=False, clock=clock)
    cache.receive(cache.heartbeat())
    return cache


def _user() -> User:
    return User(
        id=uuid4(),
        email="a@example.com",
        email_key="a@example.com",
        password_hash="x",
        role="user",
        is_active=True,
    )


def _cached(cache: AccessCache) -> tuple[UUID, User]:
    user, sid = _user(), uuid4()
    cache.put(sid, user, session_expires_in=60, epoch=cache.epoch)
    assert cache.get(sid, user.id) is user
    return sid, user


def test_an_entry_read_before_an_invalidation_is_not_stored_after_it() -> None:
    cache = AccessCache(redis_url=None, single_worker=True)
    user, sid = _user(), uuid4()
    epoch = cache.epoch
    cache.receive(str(user.id).encode())  # an invalidation lands while the database was read
    cache.put(sid, user, session_expires_in=60, epoch=epoch)
    assert cache.get(sid, user.id) is None


def test_entries_answer_only_for_their_own_user_and_expire_with_the_session(
    cache: AccessCache, clock: FakeClock
) -> None:
    sid, user = _cached(cache)
    assert cache.get(sid, uuid4()) is None
    short = uuid4()
    cache.put(short, user, session_expires_in=0.5, epoch=cache.epoch)
    clock.advance(0.5)
    assert cache.get(short, user.id) is None
    assert cache.get(sid, user.id) is user


def test_a_lone_worker_without_redis_trusts_its_cache_for_good(clock: FakeClock) -> None:
    cache = AccessCache(redis_url=None, single_worker=True, clock=clock)
    sid, user = _cached(cache)
    clock.advance(30)
    assert cache.active and cache.get(sid, user.id) is user


def test_several_workers_without_redis_never_trust_a_cache() -> None:
    cache = AccessCache(redis_url=None, single_worker=False)
    cache.put(uuid4(), _user(), session_expires_in=60, epoch=cache.epoch)
    assert cache.active is False


def test_a_redis_backed_cache_is_off_until_its_first_heartbeat_returns(clock: FakeClock) -> None:
    cache = AccessCache(redis_url=REDIS_URL, single_worker=True, clock=clock)
    user, sid = _user(), uuid4()
    cache.put(sid, user, session_expires_in=60, epoch=cache.epoch)
    assert cache.active is False and cache.get(sid, user.id) is None
    cache.receive(cache.heartbeat())
    assert cache.active is True


def test_an_invalidation_on_the_channel_drops_every_session_of_the_user(
    cache: AccessCache,
) -> None:
    sid, user = _cached(cache)
    other_sid = uuid4()
    cache.put(other_sid, user, session_expires_in=60, epoch=cache.epoch)
    cache.receive(str(user.id).encode())
    assert cache.get(sid, user.id) is None and cache.get(other_sid, user.id) is None


def test_the_cache_stops_answering_when_no_heartbeat_returned_within_the_window(
    cache: AccessCache, clock: FakeClock
) -> None:
    sid, user = _cached(cache)
    clock.advance(TRUST_WINDOW_S - 0.01)
    assert cache.get(sid, user.id) is user
    clock.advance(0.01)
    assert cache.active is False and cache.get(sid, user.id) is None


def test_each_returning_heartbeat_extends_trust_from_when_it_was_sent(
    cache: AccessCache, clock: FakeClock
) -> None:
    sid, user = _cached(cache)
    for _ in range(10):
        clock.advance(0.5)
        cache.receive(cache.heartbeat())
    assert cache.get(sid, user.id) is user


def test_a_heartbeat_that_returns_late_proves_nothing(cache: AccessCache, clock: FakeClock) -> None:
    """A slow Redis: the heartbeat left long ago, so invalidations may be queued behind it."""
    sid, user = _cached(cache)
    late = cache.heartbeat()
    clock.advance(TRUST_WINDOW_S)
    cache.receive(late)
    assert cache.active is False and cache.get(sid, user.id) is None


def test_other_workers_heartbeats_do_not_make_this_cache_trusted(clock: FakeClock) -> None:
    cache = AccessCache(redis_url=REDIS_URL, single_worker=False, clock=clock)
    other = AccessCache(redis_url=REDIS_URL, single_worker=False, clock=clock)
    cache.receive(other.heartbeat())
    assert cache.active is False


def test_after_a_gap_the_cache_is_emptied_before_it_is_trusted_again(
    cache: AccessCache, clock: FakeClock
) -> None:
    sid, user = _cached(cache)
    clock.advance(5)  # Redis hung: an invalidation of this user may have been lost
    cache.receive(cache.heartbeat())
    assert cache.active is True
    assert cache.get(sid, user.id) is None


def test_a_lost_connection_stops_trust_at_once_and_empties_the_cache_on_return(
    cache: AccessCache,
) -> None:
    sid, user = _cached(cache)
    cache.channel_lost()  # e.g. Redis restarted: messages sent before resubscribing are lost
    assert cache.active is False and cache.get(sid, user.id) is None
    cache.receive(cache.heartbeat())
    assert cache.active is True and cache.get(sid, user.id) is None


def test_a_read_that_straddles_a_gap_is_not_stored(cache: AccessCache, clock: FakeClock) -> None:
    user, sid = _user(), uuid4()
    epoch = cache.epoch
    clock.advance(5)
    cache.receive(cache.heartbeat())  # trusted again, but the read began before the gap
    cache.put(sid, user, session_expires_in=60, epoch=epoch)
    assert cache.get(sid, user.id) is None
