"""HTTP routes of /api/v1/users: the caller's account and user management for admins."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from parley.api.deps import AdminUser, CurrentUser, PageDep, ResourcesDep
from parley.api.lane import LaneCall, LaneRoute, lane_route
from parley.api.openapi import errors
from parley.core.cursors import list_scope
from parley.core.schemas import Envelope, Page, SearchQuery
from parley.users.dependencies import UserServiceDep
from parley.users.hot_paths import me_response
from parley.users.schemas import PasswordConfirmation, UserRead, UserUpdateAdmin, UserUpdateMe

router = APIRouter()
# The hot routes' lane twins (parley.api.lane), each beside its route.
lane_routes: list[LaneRoute] = []


@router.get("/me", response_model=Envelope[UserRead])
async def read_me(user: CurrentUser) -> Response:
    """Return the caller's account."""
    # Bytes written from the caller's row; the response_model still documents them.
    return Response(me_response(user), media_type="application/json")


@lane_route(lane_routes, "GET", "/users/me")
async def lane_read_me(call: LaneCall) -> tuple[int, bytes]:
    return 200, me_response(call.user)


@router.patch("/me", responses=errors(409))
async def update_me(
    data: UserUpdateMe, user: CurrentUser, users: UserServiceDep
) -> Envelope[UserRead]:
    """Change the caller's email, username or phone number (null clears the last two)."""
    updated = await users.update_me(user.id, data=data)
    return Envelope(message="Account updated", data=UserRead.model_validate(updated))


@router.delete("/me")
async def delete_me(
    data: PasswordConfirmation, user: CurrentUser, users: UserServiceDep
) -> Envelope[None]:
    """Delete the caller's account and everything it owns; the password confirms it."""
    await users.delete_me(user.id, password=data.password)
    return Envelope(message="Account deleted", data=None)


@router.get("")
async def list_users(
    _admin: AdminUser,
    users: UserServiceDep,
    page: PageDep,
    resources: ResourcesDep,
    q: Annotated[SearchQuery | None, Query(description="Email or username contains")] = None,
    role: Literal["user", "admin"] | None = None,
    is_active: bool | None = None,
) -> Envelope[Page[UserRead]]:
    """List users, newest first (admin)."""
    # The filters narrow the list without reordering it: one scope serves them all.
    scope = list_scope("users")
    after = resources.cursors.decode_id(page.cursor, scope=scope)
    rows = await users.list_users(
        limit=page.limit + 1, after=after, q=q or None, role=role, is_active=is_active
    )
    next_cursor = (
        resources.cursors.encode_id(rows[page.limit - 1].id, scope=scope)
        if len(rows) > page.limit
        else None
    )
    items = [UserRead.model_validate(row) for row in rows[: page.limit]]
    return Envelope(message="Users", data=Page(items=items, next_cursor=next_cursor))


@router.get("/{user_id}")
async def read_user(user_id: UUID, _admin: AdminUser, users: UserServiceDep) -> Envelope[UserRead]:
    """Return one user (admin)."""
    return Envelope(message="User", data=UserRead.model_validate(await users.get(user_id)))


@router.patch("/{user_id}", responses=errors(409))
async def update_user(
    user_id: UUID, data: UserUpdateAdmin, admin: AdminUser, users: UserServiceDep
) -> Envelope[UserRead]:
    """Change a user's role, state, username or phone number (admin); disabling signs it out."""
    updated = await users.update_by_admin(user_id, actor=admin, data=data)
    return Envelope(message="User updated", data=UserRead.model_validate(updated))


@router.delete("/{user_id}", responses=errors(409))
async def delete_user(user_id: UUID, admin: AdminUser, users: UserServiceDep) -> Envelope[None]:
    """Delete a user and everything it owns (admin)."""
    await users.delete_by_admin(user_id, actor=admin)
    return Envelope(message="User deleted", data=None)
