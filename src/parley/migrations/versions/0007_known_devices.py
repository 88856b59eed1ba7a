"""The devices each account signed in from, apart from the audit log (new-device notices).

Existing accounts count as signed in before, and the devices of their sign-ins in the audit
log's last 90 days are known: an upgrade mails no notice for a device already seen.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import parley.db.types
from parley.accounts.devices import device_signature

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PART = 64


def _key(length: int) -> sa.types.TypeEngine[str]:
    binary = mysql.VARCHAR(charset="utf8mb4", collation="utf8mb4_bin", length=length)
    return sa.String(length=length).with_variant(binary, "mariadb").with_variant(binary, "mysql")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("has_signed_in", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    known_devices = op.create_table(
        "known_devices",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("browser", _key(PART), nullable=False),
        sa.Column("system", _key(PART), nullable=False),
        sa.Column("network", _key(PART), nullable=False),
        sa.Column("last_seen_at", parley.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_known_devices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "browser", "system", "network", name=op.f("pk_known_devices")
        ),
    )
    op.create_index(op.f("ix_known_devices_last_seen_at"), "known_devices", ["last_seen_at"])
    op.execute(sa.text("UPDATE users SET has_signed_in = :yes").bindparams(yes=True))
    _learn_devices_from_the_audit_log(known_devices)


def _learn_devices_from_the_audit_log(known_devices: sa.Table) -> None:
    bind = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("actor_id", sa.Uuid()),
        sa.column("action", sa.String()),
        sa.column("user_agent", sa.String()),
        sa.column("ip_address", sa.String()),
        sa.column("created_at", parley.db.types.UTCDateTime(timezone=True)),
    )
    users = sa.table("users", sa.column("id", sa.Uuid()))
    since = datetime.now(UTC) - timedelta(days=90)
    rows = bind.execute(
        sa.select(
            audit.c.actor_id,
            audit.c.user_agent,
            audit.c.ip_address,
            sa.func.max(audit.c.created_at),
        )
        .where(
            audit.c.action == "auth.login",
            audit.c.created_at >= since,
            audit.c.actor_id.in_(sa.select(users.c.id)),
        )
        .group_by(audit.c.actor_id, audit.c.user_agent, audit.c.ip_address)
    )
    latest: dict[tuple[object, str, str, str], datetime] = {}
    for user_id, user_agent, ip_address, seen in rows:
        parts = tuple(part[:PART] for part in device_signature(user_agent, ip_address))
        key = (user_id, *parts)
        if key not in latest or seen > latest[key]:
            latest[key] = seen
    if latest:
        op.bulk_insert(
            known_devices,
            [
                {
                    "user_id": k[0],
                    "browser": k[1],
                    "system": k[2],
                    "network": k[3],
                    "last_seen_at": t,
                }
                for k, t in latest.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("known_devices")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("has_signed_in")
