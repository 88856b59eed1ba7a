"""The users repository on each real database: uniqueness rules, time, keyset pages."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models.user import User
from parley.users.errors import EmailTaken, PhoneNumberTaken, UsernameTaken
from parley.users.repository import UserRepository, email_key, username_key


def _user(email: str, *, username: str | None = None, phone: str | None = None) -> User:
    return User(
        email=email,
        email_key=email_key(email),
        username=username,
        username_key=username_key(username) if username else None,
        phone_number=phone,
        password_hash="x",
        role="user",
        is_active=True,
    )


async def test_duplicate_email_in_another_case_is_email_taken(db: AsyncSession) -> None:
    users = UserRepository(db)
    users.add(_user("Shop@Example.com"))
    await users.flush()
    users.add(_user("shop@example.COM"))
    with pytest.raises(EmailTaken):
        await users.flush()


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        ({"username": "Corner"}, {"username": "corner"}, UsernameTaken),
        ({"phone": "+14155552671"}, {"phone": "+14155552671"}, PhoneNumberTaken),
    ],
)
async def test_each_unique_field_maps_to_its_own_error(
    db: AsyncSession, first: dict[str, str], second: dict[str, str], error: type[Exception]
) -> None:
    users = UserRepository(db)
    users.add(_user("one@example.com", **first))
    await users.flush()
    users.add(_user("two@example.com", **second))
    with pytest.raises(error):
        await users.flush()


async def test_accented_and_plain_usernames_are_distinct_on_every_database(
    db: AsyncSession,
) -> None:
    users = UserRepository(db)
    users.add(_user("one@example.com", username="café"))
    users.add(_user("two@example.com", username="cafe"))
    await users.flush()


async def test_timestamps_keep_microseconds_and_come_back_in_utc(db: AsyncSession) -> None:
    users = UserRepository(db)
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    user = users.add(_user("time@example.com"))
    user.created_at = moment
    await users.flush()
    db.expunge_all()
    reloaded = await users.get(user.id)
    assert reloaded is not None
    assert reloaded.created_at == moment
    assert reloaded.created_at.tzinfo is not None


async def test_search_treats_like_wildcards_literally(db: AsyncSession) -> None:
    users = UserRepository(db)
    users.add(_user("100%sure@example.com"))
    users.add(_user("plain@example.com"))
    await users.flush()
    found = await users.list_page(limit=10, after=None, q="%", role=None, is_active=None)
    assert [u.email for u in found] == ["100%sure@example.com"]


async def test_keyset_pages_do_not_overlap(db: AsyncSession) -> None:
    users = UserRepository(db)
    for n in range(5):
        users.add(_user(f"page{n}@example.com"))
    await users.flush()
    first = await users.list_page(limit=3, after=None, q="page", role=None, is_active=None)
    second = await users.list_page(limit=3, after=first[-1].id, q="page", role=None, is_active=None)
    assert len(first) == 3
    assert len(second) == 2
    assert not {u.id for u in first} & {u.id for u in second}
