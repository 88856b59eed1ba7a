"""Enqueue a job inside the transaction of the change that needs it."""

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import orjson

from parley.core.clock import utcnow
from parley.core.ids import new_id
from parley.db.uow import UnitOfWork
from parley.jobs.registry import JobSpec, Payload
from parley.models.jobs import Job

# Runners of this process, woken when a transaction that enqueued a job commits.
_wakers: set[Callable[[], None]] = set()


def enqueue(
    uow: UnitOfWork, spec: JobSpec, payload: Payload, *, delay: timedelta | None = None
) -> UUID:
    """Write the job into the unit of work's transaction; it runs after the commit (never if
    the transaction rolls back), `delay` later if given. Return the job's id."""
    job = Job(
        id=new_id(),
        name=spec.name,
        payload=orjson.dumps(payload).decode(),
        run_at=utcnow() + delay if delay else utcnow(),
        max_attempts=spec.max_attempts,
        state="queued",
        attempts=0,
    )
    uow.session.add(job)
    uow.after_commit(wake_runners)
    return job.id


def wake_runners() -> None:
    """Tell this process's runners that a job is waiting (others poll)."""
    for wake in list(_wakers):
        wake()


def add_waker(wake: Callable[[], None]) -> None:
    _wakers.add(wake)


def remove_waker(wake: Callable[[], None]) -> None:
    _wakers.discard(wake)
