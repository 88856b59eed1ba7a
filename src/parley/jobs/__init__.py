"""Background work: jobs written to the database in the transaction that needs them, run by
`parley serve` itself or, with QUEUE_URL, by `parley worker` processes (docs/jobs.md).

    @job("webhooks.deliver", max_attempts=10)
    async def deliver(ctx: JobContext, payload: Payload) -> None: ...

    enqueue(uow, deliver, {"delivery_id": str(delivery.id)}, delay=timedelta(seconds=30))
"""

from parley.jobs.outbox import enqueue
from parley.jobs.registry import (
    JobContext,
    JobSpec,
    Payload,
    RetryJob,
    every_purge_interval,
    job,
    periodic,
)

__all__ = [
    "JobContext",
    "JobSpec",
    "Payload",
    "RetryJob",
    "enqueue",
    "every_purge_interval",
    "job",
    "periodic",
]
