"""How the webhooks domain hands its work to the job system: one job per delivery attempt."""

from datetime import timedelta
from uuid import UUID

from parley.db.uow import UnitOfWork
from parley.jobs import JobSpec, enqueue
from parley.jobs.registry import get_job, load_jobs

DELIVER_JOB = "webhooks.deliver"


def _deliver_job() -> JobSpec:
    spec = get_job(DELIVER_JOB)
    if spec is None:
        load_jobs()  # parley.webhooks.jobs registers it; it is one of the registry's JOB_MODULES
        spec = get_job(DELIVER_JOB)
    if spec is None:
        raise RuntimeError(f"the job {DELIVER_JOB!r} is not registered")
    return spec


def schedule_attempt(
    uow: UnitOfWork, delivery_id: UUID, *, attempt: int, delay: timedelta | None
) -> None:
    """Enqueue attempt number `attempt` of a delivery in the unit of work's transaction."""
    enqueue(uow, _deliver_job(), {"delivery_id": str(delivery_id), "attempt": attempt}, delay=delay)
