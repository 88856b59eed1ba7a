"""Users use cases against in-memory repositories."""

import pytest

from parley.core.errors import Conflict, ValidationFailed
from parley.models.user import Role
from parley.users.errors import EmailTaken
from parley.users.schemas import UserCreate, UserUpdateAdmin
from parley.users.service import UserService
from tests.unit.conftest import CLIENT, PASSWORD, World


def _users(w: World) -> UserService:
    return UserService(
        w.uow,  # type: ignore[arg-type]
        settings=w.settings,
        cache=w.cache,  # type: ignore[arg-type]
        users=w.users,  # type: ignore[arg-type]
        login_sessions=w.login_sessions,  # type: ignore[arg-type]
        audit=w.audit,  # type: ignore[arg-type]
    )


async def test_common_passwords_are_refused(world: World) -> None:
    with pytest.raises(ValidationFailed):
        await _users(world).register(UserCreate(email="a@example.com", password="iloveyou1"))


async def test_email_uniqueness_ignores_case(world: World) -> None:
    await _users(world).register(UserCreate(email="shop@example.com", password=PASSWORD))
    with pytest.raises(EmailTaken):
        await _users(world).register(UserCreate(email="SHOP@example.com", password=PASSWORD))


async def test_ensure_admin_promotes_an_existing_account(world: World) -> None:
    user = await _users(world).register(UserCreate(email="shop@example.com", password=PASSWORD))
    admin = await _users(world).ensure_admin(
        email="shop@example.com", password="admin passphrase 1"
    )
    assert admin.id == user.id and admin.role == Role.ADMIN


async def test_disabling_revokes_sessions_and_drops_cached_access(world: World) -> None:
    admin = await _users(world).ensure_admin(
        email="root@example.com", password="admin passphrase 1"
    )
    user = await _users(world).register(UserCreate(email="shop@example.com", password=PASSWORD))
    issued = await world.auth().login("shop@example.com", PASSWORD, client=CLIENT)
    await _users(world).update_by_admin(user.id, actor=admin, data=UserUpdateAdmin(is_active=False))
    assert world.login_sessions.rows[issued.session_id].revoked_at is not None
    assert user.id in world.cache.invalidated
    assert world.cache.deleted == []  # a disabled user's data stays


async def test_deleting_a_user_tells_the_caches_it_is_gone(world: World) -> None:
    admin = await _users(world).ensure_admin(
        email="root@example.com", password="admin passphrase 1"
    )
    user = await _users(world).register(UserCreate(email="shop@example.com", password=PASSWORD))
    await _users(world).delete_by_admin(user.id, actor=admin)
    assert world.cache.deleted == [user.id]


async def test_admins_cannot_demote_themselves(world: World) -> None:
    admin = await _users(world).ensure_admin(
        email="root@example.com", password="admin passphrase 1"
    )
    with pytest.raises(Conflict):
        await _users(world).update_by_admin(
            admin.id, actor=admin, data=UserUpdateAdmin(role="user")
        )
