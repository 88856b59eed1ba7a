"""What makes an account trustworthy: verified addresses, second factors, the devices it signed
in from, API keys and the audit log of everything that touched its security."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.clock import utcnow
from parley.db.base import Base, IdMixin
from parley.db.types import key_string

# Each part of a known device is kept to this many characters.
DEVICE_PART_LENGTH = 64


class EmailVerificationToken(IdMixin, Base):
    """A single-use link proving that its holder reads `email_key`; only its SHA-256 is kept."""

    __tablename__ = "email_verification_tokens"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email_key: Mapped[str] = mapped_column(key_string(320))
    token_hash: Mapped[str] = mapped_column(key_string(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TotpCredential(IdMixin, Base):
    """A user's TOTP secret, encrypted; active once confirmed. `last_step` refuses replays."""

    __tablename__ = "totp_credentials"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(IdMixin, Base):
    """One single-use recovery code; only its SHA-256 is kept."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(key_string(64))
    used_at: Mapped[datetime | None]


class MfaChallenge(IdMixin, Base):
    """The single-use `mfa_token` a correct password earns an account with MFA on."""

    __tablename__ = "mfa_challenges"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(key_string(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class KnownDevice(Base):
    """A device an account signed in from (browser family, operating system, client network)
    and when it last did; forgotten 90 days after that. New-device notices read it."""

    __tablename__ = "known_devices"

    user_id: Mapped[UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    browser: Mapped[str] = mapped_column(key_string(DEVICE_PART_LENGTH), primary_key=True)
    system: Mapped[str] = mapped_column(key_string(DEVICE_PART_LENGTH), primary_key=True)
    network: Mapped[str] = mapped_column(key_string(DEVICE_PART_LENGTH), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(index=True)


class ApiKey(IdMixin, Base):
    """A long-lived credential of integrations; found by `prefix`, checked by `key_hash`."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id_revoked_at", "user_id", "revoked_at"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(key_string(8), unique=True)
    key_hash: Mapped[str] = mapped_column(key_string(64))
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEntry(IdMixin, Base):
    """One security-relevant event. No foreign keys: the history outlives deleted accounts."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_id_id", "actor_id", "id"),
        Index("ix_audit_log_target_id_id", "target_id", "id"),
        Index("ix_audit_log_created_at", "created_at"),
    )

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[UUID | None]
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[UUID | None]
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
