"""Search structures: FTS5 trigram tables on SQLite, pg_trgm GIN indexes on PostgreSQL.

MariaDB has no substring index, so it gets nothing here (decision 095).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

from parley.db.search import TrigramIndex

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here, not imported from the models, so this revision keeps its meaning.
INDEXES = [
    TrigramIndex("sellers", ("name_key", "product", "description", "benefits")),
    TrigramIndex("chat_sessions", ("title",)),
]


def upgrade() -> None:
    for index in INDEXES:
        index.install(op.get_bind())


def downgrade() -> None:
    for index in INDEXES:
        index.uninstall(op.get_bind())
