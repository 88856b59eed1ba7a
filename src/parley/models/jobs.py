"""Background work kept in the database: the job outbox, the periodic schedule and the stored
answers of idempotent POSTs."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.clock import utcnow
from parley.db.base import Base, IdMixin
from parley.db.types import key_string

# Large enough for any POST's answer; MEDIUMBLOB on MariaDB.
MAX_STORED_BODY = 16 * 1024 * 1024


class Job(IdMixin, Base):
    """One job: written in the transaction of the change that needs it (an outbox row), claimed
    with a lease, deleted once it has run."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_run_at", "state", "run_at"),
        Index("ix_jobs_state_lease_until", "state", "lease_until"),
    )

    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    # queued (waiting for run_at) | sent (handed to the broker) | running | failed (gave up)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    # A fresh token per claim: only the holder of the current claim may settle the job.
    claim: Mapped[str | None] = mapped_column(key_string(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobSchedule(Base):
    """When a periodic job is next due; whoever moves `next_run_at` forward enqueues it."""

    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(key_string(100), primary_key=True)
    next_run_at: Mapped[datetime]


class IdempotencyRecord(IdMixin, Base):
    """One Idempotency-Key of one user: claimed before the request runs, then its answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(key_string(255))
    # SHA-256 of the method, path and body the key was first used with.
    fingerprint: Mapped[str] = mapped_column(key_string(64))
    # running (claimed, the first request is under way) | done (its answer is stored)
    state: Mapped[str] = mapped_column(String(16), default="running")
    locked_until: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes | None] = mapped_column(LargeBinary(MAX_STORED_BODY))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
