"""The event log: every committed change to a chat session, its messages, vendor or sellers."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from parley.db.base import Base

# SQLite needs INTEGER for a rowid primary key; AUTOINCREMENT (below) never reuses an id.
EventId = BigInteger().with_variant(Integer(), "sqlite")
# A rendered resource; MariaDB's TEXT stops at 64 KiB.
EventData = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


class Event(Base):
    """One change, in commit order: `id` grows with the commits of the transactions that
    wrote the events (decision 111), and `data` is the resource as its GET route renders it."""

    __tablename__ = "events"
    __table_args__ = (
        # The feed: one user's events after an id, and one chat session's.
        Index("ix_events_user_id_id", "user_id", "id"),
        Index("ix_events_session_id_id", "session_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(index=True)
    # No foreign key: a chat session's events outlive it (its `session.deleted` above all).
    session_id: Mapped[UUID]
    # The chat session's owner: whose feed the event is in.
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    data: Mapped[str] = mapped_column(EventData)


class EventClock(Base):
    """One row that event-writing transactions lock on MariaDB, so that they take their event
    ids and commit in one order (decision 111). Unused on SQLite and PostgreSQL."""

    __tablename__ = "event_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ticks: Mapped[int] = mapped_column(BigInteger, default=0)
