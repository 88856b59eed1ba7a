"""What a chat session sells through: its vendor and its sellers."""

from typing import cast
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.db.base import Base, IdMixin, TimestampMixin
from parley.db.search import TrigramIndex
from parley.db.types import key_string
from parley.db.versions import OwnerVersions, Watched


class Vendor(IdMixin, TimestampMixin, Base):
    """The business identity registered for one chat session."""

    __tablename__ = "vendors"
    __table_args__ = (Index("ix_vendors_user_id_id", "user_id", "id"),)

    chat_session_id: Mapped[UUID] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE"), unique=True
    )
    # The owner, copied from the chat session (which never changes hands) for indexed lists.
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    phone_number: Mapped[str] = mapped_column(String(16))


class Seller(IdMixin, TimestampMixin, Base):
    """A sales persona: a product with its pitch, unique by name within a chat session."""

    __tablename__ = "sellers"
    __table_args__ = (
        UniqueConstraint("chat_session_id", "name_key"),
        Index("ix_sellers_user_id_id", "user_id", "id"),
        # Serves a chat session's sellers, newest first, as a keyset scan.
        Index("ix_sellers_chat_session_id_id", "chat_session_id", "id"),
    )

    chat_session_id: Mapped[UUID] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE")
    )
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # The case-folded name: the database enforces uniqueness on it the same way everywhere.
    name_key: Mapped[str] = mapped_column(key_string(100))
    product: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    benefits: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))


# Search reads the case-folded name_key, so names fold like their uniqueness does.
SELLER_SEARCH = TrigramIndex("sellers", ("name_key", "product", "description", "benefits"))
SELLER_SEARCH.attach(cast(Table, Seller.__table__))


class CatalogVersion(Base):
    """How many times an owner's sellers have changed: kept by triggers (db/versions.py), read
    by the seller search cache. No foreign key: a user's deletion cascades to their sellers,
    whose triggers would write this row again while it is being deleted."""

    __tablename__ = "catalog_versions"

    user_id: Mapped[UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


CATALOG_VERSIONS = OwnerVersions(
    "catalog_versions", "user_id", (Watched("sellers", cascades_from="chat_sessions"),)
)
CATALOG_VERSIONS.attach(Base.metadata)
