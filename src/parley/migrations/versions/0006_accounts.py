"""Accounts businesses can trust: verified emails, TOTP, API keys and the audit log.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import parley.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    binary = mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=length)
    return sa.String(length=length).with_variant(binary, "mariadb").with_variant(binary, "mysql")


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, parley.db.types.UTCDateTime(timezone=True), nullable=nullable)


def _owner(table: str) -> list[Any]:
    return [
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("email_verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("mfa_enabled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "email_verification_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("email_verification_tokens"),
        sa.Column("email_key", _key(320), nullable=False),
        sa.Column("token_hash", _key(64), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        _time("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verification_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_verification_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_email_verification_tokens_user_id"), "email_verification_tokens", ["user_id"]
    )
    op.create_table(
        "totp_credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("totp_credentials"),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        _time("created_at", nullable=False),
        _time("confirmed_at", nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_credentials")),
        sa.UniqueConstraint("user_id", name=op.f("uq_totp_credentials_user_id")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("recovery_codes"),
        sa.Column("code_hash", _key(64), nullable=False),
        _time("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index(op.f("ix_recovery_codes_user_id"), "recovery_codes", ["user_id"])
    op.create_table(
        "mfa_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("mfa_challenges"),
        sa.Column("token_hash", _key(64), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        _time("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_mfa_challenges_token_hash")),
    )
    op.create_index(op.f("ix_mfa_challenges_user_id"), "mfa_challenges", ["user_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_owner("api_keys"),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", _key(8), nullable=False),
        sa.Column("key_hash", _key(64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=True),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index("ix_api_keys_user_id_revoked_at", "api_keys", ["user_id", "revoked_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_actor_id_id", "audit_log", ["actor_id", "id"])
    op.create_index("ix_audit_log_target_id_id", "audit_log", ["target_id", "id"])
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "api_keys",
        "mfa_challenges",
        "recovery_codes",
        "totp_credentials",
        "email_verification_tokens",
    ):
        op.drop_table(table)
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("mfa_enabled")
        batch_op.drop_column("email_verified")
