"""Users use cases: accounts for their owners and user management for administrators."""

from uuid import UUID

from parley.audit.repository import AuditRepository
from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.core.errors import Conflict, FieldError, ValidationFailed
from parley.core.passwords import hash_password, is_common_password, verify_password
from parley.db.uow import UnitOfWork
from parley.logins.cache import AccessCache
from parley.logins.repository import LoginSessionRepository
from parley.media.jobs import remove_files_after_commit
from parley.models.user import Role, User
from parley.users.errors import UserNotFound
from parley.users.repository import UserRepository, email_key, username_key
from parley.users.schemas import UserCreate, UserUpdateAdmin, UserUpdateMe
from parley.users.verification import EmailVerification


def check_new_password(password: str, field: str = "body.password") -> None:
    """Refuse the most common passwords (422); length is checked by the schema."""
    if is_common_password(password):
        raise ValidationFailed(
            "Password is too common",
            details=[FieldError(field, "is one of the most common passwords; choose another")],
        )


class UserService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        settings: Settings,
        cache: AccessCache | None = None,
        mail_verification: bool = False,
        users: UserRepository | None = None,
        login_sessions: LoginSessionRepository | None = None,
        audit: AuditRepository | None = None,
    ) -> None:
        """Repositories default to SQL ones on the unit of work's session; tests pass fakes.

        `mail_verification` mails new and changed addresses a verification link; the command
        line makes accounts without one."""
        self.uow = uow
        self.audit = audit or AuditRepository(uow.session)
        self.verification = EmailVerification(uow, settings=settings) if mail_verification else None
        self.cache = cache
        self.settings = settings
        self.users = users or UserRepository(uow.session)
        self.login_sessions = login_sessions or LoginSessionRepository(uow.session)

    async def register(self, data: UserCreate, *, role: Role = Role.USER) -> User:
        """Create an account; 409 when its email, username or phone number is taken."""
        check_new_password(data.password)
        password_hash = await hash_password(data.password, self.settings.bcrypt_rounds)
        async with self.uow:
            user = self.users.add(
                User(
                    email=data.email,
                    email_key=email_key(data.email),
                    username=data.username,
                    username_key=username_key(data.username) if data.username else None,
                    phone_number=data.phone_number,
                    password_hash=password_hash,
                    role=role.value,
                    is_active=True,
                    # An operator vouches for the administrators it creates.
                    email_verified=role is Role.ADMIN,
                )
            )
            await self.users.flush()
            self.audit.record(
                "auth.register", actor_id=user.id, target_type="user", target_id=user.id
            )
            if self.verification is not None and not user.email_verified:
                self.verification.send_link(user.id, user.email, email_key=user.email_key)
            await self.uow.commit()
        return user

    async def ensure_admin(
        self, *, email: str, password: str | None, reset_password: bool = False
    ) -> User:
        """Create an administrator, or promote the account with that email, keeping its
        password unless `reset_password`."""
        async with self.uow:
            existing = await self.users.get_by_email(email)
        if existing is None or reset_password:
            if password is None:
                raise ValidationFailed(details=[FieldError("password", "is required")])
            data = UserCreate(email=email, password=password)
        if existing is None:
            return await self.register(data, role=Role.ADMIN)
        password_hash = None
        if reset_password:
            check_new_password(data.password)
            password_hash = await hash_password(data.password, self.settings.bcrypt_rounds)
        async with self.uow:
            existing = await self._lock(existing.id)
            if password_hash is not None:
                existing.password_hash = password_hash
            existing.role = Role.ADMIN.value
            existing.is_active = True
            existing.email_verified = True
            self._forget_after_commit(existing.id)
            await self.uow.commit()
            return existing

    async def get(self, user_id: UUID) -> User:
        async with self.uow:
            user = await self.users.get(user_id)
        if user is None:
            raise UserNotFound
        return user

    async def list_users(
        self,
        *,
        limit: int,
        after: UUID | None,
        q: str | None,
        role: str | None,
        is_active: bool | None,
    ) -> list[User]:
        async with self.uow:
            return await self.users.list_page(
                limit=limit, after=after, q=q, role=role, is_active=is_active
            )

    async def update_me(self, user_id: UUID, *, data: UserUpdateMe) -> User:
        """Change the caller's email, username or phone number; 409 when taken."""
        async with self.uow:
            user = await self._lock(user_id)
            fields = data.model_fields_set
            old_address, changed = user.email, False
            if "email" in fields:
                if data.email is None:
                    raise ValidationFailed(details=[FieldError("body.email", "cannot be null")])
                changed = email_key(data.email) != user.email_key
                user.email, user.email_key = data.email, email_key(data.email)
                if changed:
                    user.email_verified = False
            self._apply_profile(user, data.username, data.phone_number, fields)
            await self.users.flush()
            if "email" in fields and changed and self.verification is not None:
                self.verification.send_link(user.id, user.email, email_key=user.email_key)
                self.verification.notify_change(old_address, user.email)
            self._forget_after_commit(user.id)
            await self.uow.commit()
        return user

    async def update_by_admin(self, user_id: UUID, *, actor: User, data: UserUpdateAdmin) -> User:
        """Change a user's role, state or profile; disabling revokes its login sessions."""
        fields = data.model_fields_set
        if user_id == actor.id and (
            ("role" in fields and data.role != actor.role) or data.is_active is False
        ):
            raise Conflict("Administrators cannot demote or disable themselves")
        async with self.uow:
            user = await self._lock(user_id)
            if data.role is not None:
                user.role = data.role
            if data.is_active is not None:
                user.is_active = data.is_active
                if not data.is_active:
                    await self.login_sessions.revoke_all(user.id, now=utcnow())
            self._apply_profile(user, data.username, data.phone_number, fields)
            await self.users.flush()
            self.audit.record(
                "user.updated",
                actor_id=actor.id,
                target_type="user",
                target_id=user.id,
                details={
                    "fields": sorted(fields),
                    **({"role": data.role} if data.role is not None else {}),
                    **({"is_active": data.is_active} if data.is_active is not None else {}),
                },
            )
            self._forget_after_commit(user.id)
            await self.uow.commit()
        return user

    async def delete_me(self, user_id: UUID, *, password: str) -> None:
        """Delete the caller's account and everything it owns, after checking the password."""
        user = await self.get(user_id)
        # The slow check runs outside any transaction, so it holds no lock.
        if not await verify_password(password, user.password_hash):
            raise ValidationFailed(
                "Password is incorrect", details=[FieldError("body.password", "is incorrect")]
            )
        await self._delete(user_id, actor_id=user_id)

    async def delete_by_admin(self, user_id: UUID, *, actor: User) -> None:
        if user_id == actor.id:
            raise Conflict("Administrators cannot delete themselves here; use DELETE /users/me")
        await self._delete(user_id, actor_id=actor.id)

    async def _delete(self, user_id: UUID, *, actor_id: UUID) -> None:
        async with self.uow:
            await self._delete_locked(await self._lock(user_id), actor_id=actor_id)

    async def _delete_locked(self, user: User, *, actor_id: UUID) -> None:
        keys = await self.users.media_keys_of(user.id)
        await self.users.delete(user)
        self.audit.record("user.deleted", actor_id=actor_id, target_type="user", target_id=user.id)
        self._forget_after_commit(user.id, deleted=True)
        remove_files_after_commit(self.uow, list(keys))
        await self.uow.commit()

    def _forget_after_commit(self, user_id: UUID, *, deleted: bool = False) -> None:
        """Make changed, disabled or deleted accounts take effect for issued tokens at once."""
        cache = self.cache
        if cache is not None:
            self.uow.after_commit(lambda: cache.invalidate_user(user_id, deleted=deleted))

    async def _lock(self, user_id: UUID) -> User:
        """Load the user for a change, its write first (see UserRepository.lock)."""
        user = await self.users.lock(user_id, now=utcnow())
        if user is None:
            raise UserNotFound
        return user

    @staticmethod
    def _apply_profile(
        user: User, username: str | None, phone_number: str | None, fields: set[str]
    ) -> None:
        if "username" in fields:
            user.username = username
            user.username_key = username_key(username) if username else None
        if "phone_number" in fields:
            user.phone_number = phone_number
