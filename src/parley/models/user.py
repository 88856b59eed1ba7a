"""Accounts and what proves who is calling: login sessions and their tokens."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.clock import utcnow
from parley.db.base import Base, IdMixin, TimestampMixin
from parley.db.types import key_string


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320))
    # Lower-cased copies carry the case-insensitive uniqueness identically on every database.
    email_key: Mapped[str] = mapped_column(key_string(320), unique=True)
    username: Mapped[str | None] = mapped_column(String(50))
    username_key: Mapped[str | None] = mapped_column(key_string(50), unique=True)
    phone_number: Mapped[str | None] = mapped_column(key_string(16), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value, index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    email_verified: Mapped[bool] = mapped_column(default=False, server_default=false())
    mfa_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set at the first sign-in, which sends no new-device notice; never cleared.
    has_signed_in: Mapped[bool] = mapped_column(default=False, server_default=false())


class LoginSession(IdMixin, Base):
    """One signed-in device."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    device: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class RefreshToken(IdMixin, Base):
    """One refresh token of a login session; only its SHA-256 is kept."""

    __tablename__ = "refresh_tokens"

    login_session_id: Mapped[UUID] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(key_string(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PasswordResetToken(IdMixin, Base):
    """A single-use password-reset token; only its SHA-256 is kept."""

    __tablename__ = "password_reset_tokens"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(key_string(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
