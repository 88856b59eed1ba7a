"""The access cache's rules, without a database."""

from uuid import uuid4

from parley.auth.cache import AccessCache
from parley.models.user import User


def _user() -> User:
    return User(
        id=uuid4(),
        email="a@example.com",
        email_key="a@example.com",
        password_hash="x",
        role="user",
        is_active=True,
    )


def test_an_entry_read_before_an_invalidation_is_not_stored_after_it() -> None:
    cache = AccessCache(redis_url=None, single_worker=True)
    user, sid = _user(), uuid4()
    epoch = cache.epoch
    cache._drop_user(user.id)  # an invalidation lands while the database was being read
    cache.put(sid, user, session_expires_in=60, epoch=epoch)
    assert cache.get(sid, user.id) is None


def test_entries_answer_only_for_their_own_user_and_expire_with_the_session() -> None:
    cache = AccessCache(redis_url=None, single_worker=True)
    user, sid = _user(), uuid4()
    cache.put(sid, user, session_expires_in=60, epoch=cache.epoch)
    assert cache.get(sid, user.id) is user
    assert cache.get(sid, uuid4()) is None
    cache.put(sid, user, session_expires_in=0, epoch=cache.epoch)
    assert cache.get(sid, user.id) is None


def test_a_redis_backed_cache_is_off_until_subscribed() -> None:
    cache = AccessCache(redis_url="redis://127.0.0.1:1/0", single_worker=True)
    user, sid = _user(), uuid4()
    cache.put(sid, user, session_expires_in=60, epoch=cache.epoch)
    assert cache.active is False and cache.get(sid, user.id) is None
