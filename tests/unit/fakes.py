"""In-memory stand-ins for the SQL repositories and the unit of work, so service rules can be
tested in milliseconds without a database."""

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from parley.core.clock import utcnow
from parley.core.ids import new_id
from parley.models.accounts import AuditEntry
from parley.models.user import LoginSession, PasswordResetToken, RefreshToken, User
from parley.users.errors import EmailTaken, PhoneNumberTaken, UsernameTaken
from parley.users.repository import email_key


@dataclass
class FakeSession:
    """Holds what a service adds (jobs); committed with the unit of work."""

    pending: list[Any] = field(default_factory=list)
    committed: list[Any] = field(default_factory=list)

    def add(self, instance: Any) -> None:
        self.pending.append(instance)


@dataclass
class FakeUnitOfWork:
    session: FakeSession = field(default_factory=FakeSession)
    commits: int = 0
    _effects: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)

    async def __aenter__(self) -> "FakeUnitOfWork":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._effects.clear()
        self.session.pending.clear()

    def after_commit(self, effect: Callable[[], Awaitable[None] | None]) -> None:
        self._effects.append(effect)

    async def commit(self) -> None:
        self.commits += 1
        self.session.committed += self.session.pending
        self.session.pending = []
        effects, self._effects = self._effects, []
        for effect in effects:
            result = effect()
            if inspect.isawaitable(result):
                await result


def _ensure_id(instance: Any) -> None:
    if getattr(instance, "id", None) is None:
        instance.id = new_id()


class FakeUserRepository:
    def __init__(self) -> None:
        self.rows: dict[UUID, User] = {}

    async def get(self, id_: UUID) -> User | None:
        return self.rows.get(id_)

    async def lock(self, user_id: UUID, *, now: datetime) -> User | None:
        user = self.rows.get(user_id)
        if user is not None:
            user.updated_at = now
        return user

    async def mark_signed_in(self, user_id: UUID) -> bool:
        user = self.rows[user_id]
        first = not user.has_signed_in
        user.has_signed_in = True
        return first

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self.rows.values() if u.email_key == email_key(email)), None)

    def add(self, user: User) -> User:
        _ensure_id(user)
        self.rows[user.id] = user
        return user

    async def flush(self) -> None:
        for unique, error in (
            ("email_key", EmailTaken),
            ("username_key", UsernameTaken),
            ("phone_number", PhoneNumberTaken),
        ):
            values = [
                getattr(u, unique) for u in self.rows.values() if getattr(u, unique) is not None
            ]
            if len(values) != len(set(values)):
                raise error

    async def delete(self, user: User) -> None:
        self.rows.pop(user.id, None)

    async def media_keys_of(self, _user_id: UUID) -> list[str]:
        return []


class FakeLoginSessionRepository:
    def __init__(self, users: FakeUserRepository) -> None:
        self.users = users
        self.rows: dict[UUID, LoginSession] = {}

    def add(self, login_session: LoginSession) -> LoginSession:
        _ensure_id(login_session)
        self.rows[login_session.id] = login_session
        return login_session

    async def flush(self) -> None:
        return None

    def live(self, user_id: UUID, now: datetime) -> list[LoginSession]:
        return [
            s
            for s in self.rows.values()
            if s.user_id == user_id and s.revoked_at is None and s.expires_at > now
        ]

    async def revoke(self, login_session_id: UUID, *, user_id: UUID, now: datetime) -> bool:
        found = [s for s in self.live(user_id, now) if s.id == login_session_id]
        for s in found:
            s.revoked_at = now
        return bool(found)

    async def revoke_all(
        self, user_id: UUID, *, now: datetime, keep: UUID | None = None
    ) -> list[UUID]:
        revoked = [s for s in self.live(user_id, now) if s.id != keep]
        for s in revoked:
            s.revoked_at = now
        return [s.id for s in revoked]

    async def touch(self, login_session_id: UUID, *, now: datetime, expires_at: datetime) -> None:
        self.rows[login_session_id].last_used_at = now
        self.rows[login_session_id].expires_at = expires_at


class FakeRefreshTokenRepository:
    def __init__(self, login_sessions: FakeLoginSessionRepository) -> None:
        self.login_sessions = login_sessions
        self.rows: dict[str, RefreshToken] = {}

    def add(self, token: RefreshToken) -> RefreshToken:
        _ensure_id(token)
        self.rows[token.token_hash] = token
        return token

    async def claim(self, token_hash: str, *, now: datetime) -> bool:
        token = self.rows.get(token_hash)
        if token is None or token.used_at is not None or token.expires_at <= now:
            return False
        token.used_at = now
        return True

    async def find(self, token_hash: str) -> tuple[RefreshToken, LoginSession, User] | None:
        token = self.rows.get(token_hash)
        if token is None:
            return None
        login_session = self.login_sessions.rows[token.login_session_id]
        user = self.login_sessions.users.rows[login_session.user_id]
        return token, login_session, user


class FakeResetTokenRepository:
    def __init__(self, users: FakeUserRepository) -> None:
        self.users = users
        self.rows: dict[str, PasswordResetToken] = {}

    async def issue(
        self, email_key: str, *, token_hash: str, now: datetime, expires_at: datetime
    ) -> str | None:
        user = next(
            (u for u in self.users.rows.values() if u.email_key == email_key and u.is_active), None
        )
        if user is None:
            return None
        self.add(
            PasswordResetToken(
                user_id=user.id, token_hash=token_hash, created_at=now, expires_at=expires_at
            )
        )
        return user.email

    def add(self, token: PasswordResetToken) -> PasswordResetToken:
        _ensure_id(token)
        self.rows[token.token_hash] = token
        return token

    async def claim(self, token_hash: str, *, now: datetime) -> UUID | None:
        token = self.rows.get(token_hash)
        if token is None or token.used_at is not None or token.expires_at <= now:
            return None
        token.used_at = now
        return token.user_id

    async def use_up_all(self, user_id: UUID, *, now: datetime) -> None:
        for token in self.rows.values():
            if token.user_id == user_id and token.used_at is None:
                token.used_at = now


@dataclass
class RecordingCache:
    """Records which users' cached access was invalidated, and which were deleted."""

    invalidated: list[UUID] = field(default_factory=list)
    deleted: list[UUID] = field(default_factory=list)

    async def invalidate_user(self, user_id: UUID, *, deleted: bool = False) -> None:
        self.invalidated.append(user_id)
        if deleted:
            self.deleted.append(user_id)


@dataclass
class FakeAuditRepository:
    """Keeps audit entries in a list, newest last."""

    entries: list[AuditEntry] = field(default_factory=list)

    def record(
        self,
        action: str,
        *,
        actor_id: UUID | None,
        target_type: str | None = None,
        target_id: UUID | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            id=new_id(),
            created_at=utcnow(),
            action=action,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            details=details,
        )
        self.entries.append(entry)
        return entry


@dataclass
class FakeKnownDeviceRepository:
    """When each (user, device) last signed in."""

    last_seen: dict[tuple[UUID, tuple[str, str, str]], datetime] = field(default_factory=dict)

    async def remember(
        self, user_id: UUID, device: tuple[str, str, str], *, now: datetime
    ) -> datetime | None:
        previous = self.last_seen.get((user_id, device))
        self.last_seen[(user_id, device)] = now
        return previous
