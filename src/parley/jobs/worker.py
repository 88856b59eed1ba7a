"""`parley worker`: run the jobs QUEUE_URL delivers, relay due jobs and keep the schedule."""

import asyncio
import contextlib

import structlog
from taskiq.api import run_receiver_task

from parley.core.config import Settings
from parley.core.mail import Mailer, create_mailer
from parley.core.media_storage import LocalMediaStorage
from parley.jobs.service import CONCURRENCY, JobQueue

log = structlog.get_logger("parley.jobs")

BROKER_RETRY_S = 2.0


async def run_worker(
    settings: Settings, *, stop: asyncio.Event, mailer: Mailer | None = None
) -> None:
    """Work until `stop` is set; the job in hand is cut short and runs again elsewhere."""
    if settings.queue_url is None:
        raise ValueError("QUEUE_URL is not set: jobs run inside `parley serve`")
    queue = JobQueue(
        settings=settings,
        mailer=mailer or create_mailer(settings),
        media=LocalMediaStorage(settings.media_dir),
    )
    await queue.start(worker=True)
    receiver: asyncio.Task[None] | None = None
    try:
        while not stop.is_set():
            try:
                await queue.start_broker()
                break
            except Exception as error:
                log.warning("broker_unavailable", error=type(error).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), BROKER_RETRY_S)
        if not stop.is_set():
            assert queue.broker is not None
            receiver = asyncio.create_task(
                run_receiver_task(queue.broker, max_async_tasks=CONCURRENCY, max_prefetch=0)
            )
            log.info("worker_started", queue=settings.queue_name)
            await stop.wait()
    finally:
        if receiver is not None:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver
        await queue.stop()
