"""HTTP routes of /api/v1/api-keys."""

from uuid import UUID

from fastapi import APIRouter, status

from parley.api.deps import CurrentUser, PageDep, ResourcesDep
from parley.api.openapi import errors
from parley.apikeys.dependencies import ApiKeyServiceDep
from parley.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from parley.core.cursors import list_scope
from parley.core.schemas import Envelope, Page

router = APIRouter()


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def create_api_key(
    data: ApiKeyCreate, user: CurrentUser, api_keys: ApiKeyServiceDep
) -> Envelope[ApiKeyCreated]:
    """Create an API key; `key` is in this answer only. 409 past 20 live keys."""
    created = await api_keys.create(user.id, data=data)
    read = ApiKeyRead.model_validate(created.api_key)
    return Envelope(
        message="API key created", data=ApiKeyCreated(**read.model_dump(), key=created.key)
    )


@router.get("")
async def list_api_keys(
    user: CurrentUser, api_keys: ApiKeyServiceDep, page: PageDep, resources: ResourcesDep
) -> Envelope[Page[ApiKeyRead]]:
    """List the caller's live API keys, newest first (never the keys themselves)."""
    scope = list_scope("api-keys", user.id)
    before = resources.cursors.decode_id(page.cursor, scope=scope)
    rows = await api_keys.list_keys(user.id, limit=page.limit + 1, before=before)
    next_cursor = (
        resources.cursors.encode_id(rows[page.limit - 1].id, scope=scope)
        if len(rows) > page.limit
        else None
    )
    items = [ApiKeyRead.model_validate(row) for row in rows[: page.limit]]
    return Envelope(message="API keys", data=Page(items=items, next_cursor=next_cursor))


@router.delete("/{api_key_id}")
async def revoke_api_key(
    api_key_id: UUID, user: CurrentUser, api_keys: ApiKeyServiceDep
) -> Envelope[None]:
    """Revoke an API key: it stops working at once, on every worker. Another user's is 404."""
    await api_keys.revoke(api_key_id, user_id=user.id)
    return Envelope(message="API key revoked", data=None)
