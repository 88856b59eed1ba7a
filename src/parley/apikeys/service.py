"""API key use cases, and authenticating a request by its key."""

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from uuid import UUID

from parley.apikeys.errors import ApiKeyNotFound, InvalidApiKey, TooManyApiKeys
from parley.apikeys.keys import matches, new_key, prefix_of
from parley.apikeys.repository import TOUCH_INTERVAL, ApiKeyRepository
from parley.apikeys.schemas import ApiKeyCreate
from parley.audit.repository import AuditRepository
from parley.core.clock import utcnow
from parley.db.engine import Database
from parley.db.repository import lock_row
from parley.db.uow import UnitOfWork
from parley.logins.cache import AccessCache
from parley.models.accounts import ApiKey
from parley.models.user import User
from parley.users.errors import UserNotFound

MAX_LIVE_KEYS = 20
# A verified key is remembered at most this long, like a login session (logins/cache.py).
_NEVER_EXPIRES_S = 365 * 86400.0
# The scope of each key remembered in this process; a key's scope never changes, and its
# revocation goes through the access cache, which forgets the key itself.
_scopes: dict[UUID, str] = {}
_SCOPES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class CreatedKey:
    api_key: ApiKey
    key: str


class ApiKeyService:
    def __init__(self, uow: UnitOfWork, *, cache: AccessCache) -> None:
        self.uow = uow
        self.cache = cache
        self.keys = ApiKeyRepository(uow.session)
        self.audit = AuditRepository(uow.session)

    async def create(self, user_id: UUID, *, data: ApiKeyCreate) -> CreatedKey:
        """Create a key; 409 past 20 live keys. The key itself is returned only here."""
        now = utcnow()
        made = new_key()
        async with self.uow:
            # Holding the user's row serialises its creations, so 20 stays 20 under races.
            if await lock_row(self.uow.session, User, user_id, User.id) is None:
                raise UserNotFound
            if await self.keys.count_live(user_id, now=now) >= MAX_LIVE_KEYS:
                raise TooManyApiKeys
            expires_at = (
                now + timedelta(days=data.expires_in_days) if data.expires_in_days else None
            )
            api_key = self.keys.add(
                ApiKey(
                    user_id=user_id,
                    name=data.name,
                    prefix=made.prefix,
                    key_hash=made.key_hash,
                    scope=data.scope,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            await self.keys.flush()
            self.audit.record(
                "api_key.created",
                actor_id=user_id,
                target_type="api_key",
                target_id=api_key.id,
                details={"name": data.name, "scope": data.scope, "prefix": made.prefix},
            )
            await self.uow.commit()
        return CreatedKey(api_key, made.key)

    async def list_keys(self, user_id: UUID, *, limit: int, before: UUID | None) -> list[ApiKey]:
        async with self.uow:
            return await self.keys.list_live(user_id, now=utcnow(), limit=limit, before=before)

    async def revoke(self, api_key_id: UUID, *, user_id: UUID) -> None:
        """Revoke one of the user's keys, at once on every worker; another user's is 404."""
        async with self.uow:
            if not await self.keys.revoke(api_key_id, user_id=user_id, now=utcnow()):
                raise ApiKeyNotFound
            self.audit.record(
                "api_key.revoked", actor_id=user_id, target_type="api_key", target_id=api_key_id
            )
            # The user's cached access, its keys included, is dropped in every worker.
            self.uow.after_commit(lambda: self.cache.invalidate_user(user_id))
            await self.uow.commit()


@dataclass(frozen=True, slots=True)
class KeyHolder:
    user: User
    api_key_id: UUID
    scope: str


def remembered_key(cache: AccessCache, key: str) -> KeyHolder | None:
    """A key verified before whose entry is still live in the access cache: no await."""
    found = cache.get_by_token(key)
    if found is None:
        return None
    scope = _scopes.get(found[1])
    return KeyHolder(found[0], found[1], scope) if scope is not None else None


def remembered_key_owner(cache: AccessCache, key: str) -> UUID | None:
    """The user of a remembered key, for the request budget (per user, not per key)."""
    found = cache.get_by_token(key)
    return found[0].id if found is not None else None


async def api_key_holder(key: str, *, database: Database, cache: AccessCache) -> UUID | None:
    """The user of a live key, or None (the route's own check then answers 401)."""
    remembered = remembered_key(cache, key)
    if remembered is not None:
        return remembered.user.id
    try:
        holder = await authenticate_api_key(key, database=database, cache=cache)
    except InvalidApiKey:
        return None
    return holder.user.id


async def api_key_live(
    api_key_id: UUID, *, user_id: UUID, database: Database, cache: AccessCache
) -> User | None:
    """The user while the key is live (not revoked, not expired) and the user active; else
    None. What an open event stream checks, as a login session's stream checks its session."""
    cached = cache.get(api_key_id, user_id)
    if cached is not None:
        return cached
    async with database.sessions() as db:
        return await ApiKeyRepository(db).find_live_by_id(api_key_id, user_id=user_id, now=utcnow())


async def authenticate_api_key(key: str, *, database: Database, cache: AccessCache) -> KeyHolder:
    """Accept a live key of an active user; then remember it like a verified access token.
    The requests that bring the same key at once share one check (AccessCache.shared_read)."""
    return await cache.shared_read(key, partial(_check_key, key, database, cache))


async def _check_key(key: str, database: Database, cache: AccessCache, epoch: int) -> KeyHolder:
    prefix = prefix_of(key)
    now = utcnow()
    found = None
    if prefix is not None:
        async with database.sessions() as db:
            found = await ApiKeyRepository(db).find_live_with_user(prefix, now=now)
    if not matches(key, found[0].key_hash if found else None) or found is None:
        raise InvalidApiKey
    api_key, user = found
    if api_key.last_used_at is None or api_key.last_used_at <= now - TOUCH_INTERVAL:
        async with database.sessions() as db, UnitOfWork(db) as uow:
            await ApiKeyRepository(db).touch(api_key.id, now=now)
            await uow.commit()
    if len(_scopes) >= _SCOPES_KEPT:
        _scopes.pop(next(iter(_scopes)))
    _scopes[api_key.id] = api_key.scope
    lives = (api_key.expires_at - now).total_seconds() if api_key.expires_at else _NEVER_EXPIRES_S
    cache.put(api_key.id, user, session_expires_in=lives, epoch=epoch)
    cache.remember_token(key, api_key.id, expires_in=lives)
    return KeyHolder(user, api_key.id, api_key.scope)
