"""All SQL of the users domain: users, and the links that verify their email addresses."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from parley.core.errors import ParleyError
from parley.db.repository import Repository, rows_changed, violates
from parley.models.accounts import EmailVerificationToken
from parley.models.chat import Media
from parley.models.user import User
from parley.users.errors import EmailTaken, PhoneNumberTaken, UsernameTaken


def email_key(email: str) -> str:
    return email.strip().lower()


def username_key(username: str) -> str:
    return username.casefold()


class UserRepository(Repository[User]):
    model = User

    async def lock(self, user_id: UUID, *, now: datetime) -> User | None:
        """Load a user for a change, starting the transaction with its write.

        The write takes the row lock on PostgreSQL and MariaDB, and on SQLite the database's
        write lock before anything is read, so a concurrent writer cannot invalidate the read.
        """
        result = await self.session.execute(
            update(User).where(User.id == user_id).values(updated_at=now)
        )
        if rows_changed(result) != 1:
            return None
        return await self.session.get(User, user_id, populate_existing=True)

    async def mark_signed_in(self, user_id: UUID) -> bool:
        """Note that the user has signed in; True only the first time."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id, User.has_signed_in.is_(False))
            .values(has_signed_in=True, updated_at=User.updated_at)  # not a change of the account
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result) == 1

    async def get_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email_key == email_key(email)))

    async def list_page(
        self,
        *,
        limit: int,
        after: UUID | None,
        q: str | None,
        role: str | None,
        is_active: bool | None,
    ) -> list[User]:
        """Return up to `limit` users after the given id, newest first."""
        query = select(User).order_by(User.id.desc()).limit(limit)
        if after is not None:
            query = query.where(User.id < after)
        if q:
            pattern = q.lower()
            query = query.where(
                User.email_key.contains(pattern, autoescape=True)
                | func.lower(User.username).contains(pattern, autoescape=True)
            )
        if role is not None:
            query = query.where(User.role == role)
        if is_active is not None:
            query = query.where(User.is_active.is_(is_active))
        return list(await self.session.scalars(query))

    async def media_keys_of(self, user_id: UUID) -> list[str]:
        """Return the storage keys of every media file the user owns."""
        return list(
            await self.session.scalars(select(Media.storage_key).where(Media.user_id == user_id))
        )

    def integrity_error(self, exc: IntegrityError) -> ParleyError | IntegrityError:
        if violates(exc, "uq_users_email_key", "users.email_key"):
            return EmailTaken()
        if violates(exc, "uq_users_username_key", "users.username_key"):
            return UsernameTaken()
        if violates(exc, "uq_users_phone_number", "users.phone_number"):
            return PhoneNumberTaken()
        return exc


class EmailVerificationRepository(Repository[EmailVerificationToken]):
    model = EmailVerificationToken

    async def claim(self, token_hash: str, *, now: datetime) -> EmailVerificationToken | None:
        """Use up a valid token; return it, or None when it is unknown, used or expired."""
        result = await self.session.execute(
            update(EmailVerificationToken)
            .where(
                EmailVerificationToken.token_hash == token_hash,
                EmailVerificationToken.used_at.is_(None),
                EmailVerificationToken.expires_at > now,
            )
            .values(used_at=now)
        )
        if rows_changed(result) != 1:
            return None
        return await self.session.scalar(
            select(EmailVerificationToken).where(EmailVerificationToken.token_hash == token_hash)
        )

    async def use_up_all(self, user_id: UUID, *, now: datetime) -> None:
        await self.session.execute(
            update(EmailVerificationToken)
            .where(
                EmailVerificationToken.user_id == user_id,
                EmailVerificationToken.used_at.is_(None),
            )
            .values(used_at=now)
        )

    async def delete_spent(self, *, before: datetime) -> int:
        """Delete links that expired, or were used, before `before`."""
        result = await self.session.execute(
            delete(EmailVerificationToken).where(
                or_(
                    EmailVerificationToken.expires_at < before,
                    EmailVerificationToken.used_at < before,
                )
            )
        )
        return rows_changed(result)
