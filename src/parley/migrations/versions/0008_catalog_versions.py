"""Per-owner counts of catalogue changes, kept by triggers, for the seller search cache
(decision 190). Existing owners start without a row, which reads as version 0.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parley.db.versions import OwnerVersions, Watched

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here, not imported from the models, so this revision keeps its meaning.
VERSIONS = OwnerVersions(
    "catalog_versions", "user_id", (Watched("sellers", cascades_from="chat_sessions"),)
)


def upgrade() -> None:
    op.create_table(
        "catalog_versions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_catalog_versions")),
    )
    VERSIONS.install(op.get_bind())


def downgrade() -> None:
    VERSIONS.uninstall(op.get_bind())
    op.drop_table("catalog_versions")
