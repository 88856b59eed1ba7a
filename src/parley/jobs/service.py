"""The background side of a process: run jobs (embedded), relay them (QUEUE_URL), keep the
periodic schedule.

`parley serve` without QUEUE_URL claims due jobs from the outbox and runs them itself. With
QUEUE_URL it relays due jobs to the broker instead, and `parley worker` runs them. Both keep
the periodic schedule: a schedule row per periodic job, moved forward by one conditional
UPDATE, so exactly one process enqueues each run however many are started.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.core.mail import Mailer
from parley.core.media_storage import MediaStorage
from parley.db.engine import Database, create_database, create_sibling
from parley.jobs.outbox import add_waker, enqueue, remove_waker
from parley.jobs.registry import load_jobs, periodic_jobs
from parley.jobs.repository import SENT
from parley.jobs.runner import JobRunner, new_token, warn_of
from parley.ops.metrics import JOB_QUEUE_DEPTH

if TYPE_CHECKING:
    from taskiq import AsyncBroker

log = structlog.get_logger("parley.jobs")

# Without a wake-up (a job enqueued by another process), look for due jobs this often.
POLL_S = 1.0
# With a job due sooner, look when it is due, but no sooner than this after a look that found
# nothing: a loop whose jobs come due one by one claims a few at a time, not each alone.
MIN_PAUSE_S = 0.1
# Jobs one process runs at once (embedded mode).
CONCURRENCY = 4
RELAY_BATCH = 100
SENT_LEASES = 10
RELAY_RETRY = timedelta(seconds=2)
SCHEDULE_TICK_S = 1.0
BROKER_CHECK_TIMEOUT_S = 1.5
JOB_POOL_SIZE = 4
# How long stopping waits for running jobs to finish before cutting them short.
DRAIN_S = 5.0


class JobQueue:
    """Starts and stops this process's background loops."""

    def __init__(
        self,
        *,
        settings: Settings,
        mailer: Mailer,
        media: MediaStorage,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        # A pool of its own: background work never waits behind requests for a connection.
        database = (
            create_sibling(database, pool_size=JOB_POOL_SIZE)
            if database is not None
            else create_database(settings.database_url, pool_size=JOB_POOL_SIZE)
        )
        self.database = database
        self.runner = JobRunner(settings=settings, database=database, mailer=mailer, media=media)
        self.broker: AsyncBroker | None = None
        self._broker_started = False
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        # Set by stop(): a loop pausing between rounds ends its pause at once.
        self._stop_requested = asyncio.Event()
        self._broker_lock = asyncio.Lock()
        self._stopped = False

    @property
    def embedded(self) -> bool:
        return self.settings.queue_url is None

    async def start(self, *, worker: bool = False) -> None:
        """Start the loops: run jobs (embedded) or relay them to the broker, and schedule."""
        load_jobs()
        self._stopped = False
        self._stop_requested.clear()
        if self.embedded:
            self._spawn(self._run_forever)
        else:
            # Imported here: taskiq and its brokers' clients weigh ~10 MB a process that runs
            # jobs itself never needs.
            from parley.jobs.broker import create_broker, job_task

            self.broker = create_broker(self.settings)
            self.broker.is_worker_process = worker
            self._task = job_task(self.broker, self.runner.run_delivered)
            self._spawn(self._relay_forever)
        await self._create_schedules()
        self._spawn(self._schedule_forever)
        add_waker(self.wake)

    async def stop(self) -> None:
        """Stop the loops; a job cut short is claimed again when its lease runs out."""
        remove_waker(self.wake)
        # Loops also check the flag: a cancellation landing as a timeout fires can be lost.
        self._stopped = True
        self._stop_requested.set()
        self._wake.set()
        # A short drain first: a job or claim cancelled mid-transaction could leave its
        # connection holding a lock (SQLite's write lock) until it is collected.
        pending = [*self._tasks, *self._running]
        if pending:
            await asyncio.wait(pending, timeout=DRAIN_S)
        for task in pending:
            task.cancel()
        for task in [*self._tasks, *self._running]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._running.clear()
        if self.broker is not None and self._broker_started:
            self._broker_started = False
            with contextlib.suppress(Exception):
                await self.broker.shutdown()
        await self.database.dispose()

    def wake(self) -> None:
        self._wake.set()

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less when stop() is called meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop_requested.wait()

    def _spawn(self, loop: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(loop()))  # type: ignore[arg-type]

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    def _idle_pause(self) -> float:
        """How long a loop whose last look found nothing due waits: until the next job is due
        (MIN_PAUSE_S at least), POLL_S at most; a wake-up ends the wait sooner."""
        due = self.runner.next_due
        if due is None:
            return POLL_S
        return min(max((due - utcnow()).total_seconds(), MIN_PAUSE_S), POLL_S)

    async def _run_forever(self) -> None:
        while not self._stopped:
            free = CONCURRENCY - len(self._running)
            if free == 0:
                await self._sleep(POLL_S)  # a job's end wakes the loop
                continue
            claimed = []
            try:
                claimed = await self.runner.claim_due(free)
            except Exception as error:
                warn_of("jobs_not_claimed", error)
                await self._sleep(POLL_S)
                continue
            for job in claimed:
                task = asyncio.create_task(self.runner.run(job))
                self._running.add(task)
                task.add_done_callback(self._finished)
            if not claimed:
                await self._sleep(self._idle_pause())
            # Some claimed: look again at once, for jobs that came due meanwhile.

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job_runner_crashed", error=repr(task.exception()))
        self._wake.set()

    async def _relay_forever(self) -> None:
        while not self._stopped:
            try:
                relayed = await self._relay_once()
            except Exception as error:
                warn_of("jobs_not_relayed", error)
                await self._sleep(POLL_S)
                continue
            if relayed == 0:
                await self._sleep(self._idle_pause())
            # Some relayed: look again at once, for jobs that came due meanwhile.

    async def _relay_once(self) -> int:
        assert self.broker is not None
        token = new_token()
        # A sent job nobody started within ten leases was lost with its message: sent again.
        claimed = await self.runner.claim(
            RELAY_BATCH, state=SENT, token=token, lease=self.runner.lease * SENT_LEASES
        )
        if not claimed:
            return 0
        sent = 0
        try:
            await self._ensure_broker()
            for job in claimed:
                await self._task.kiq(str(job.id))
                sent += 1
        except Exception as error:
            # The broker is down: the rest wait in the outbox and go out when it is back.
            log.warning("broker_unavailable", error=type(error).__name__)
            unsent = [job.id for job in claimed[sent:]]
            async with self.runner.repository() as (uow, jobs):
                await jobs.requeue(unsent, token=token, run_at=utcnow() + RELAY_RETRY, error=None)
                await uow.commit()
            await self._pause(RELAY_RETRY.total_seconds())
        return sent

    async def _ensure_broker(self) -> None:
        await self.start_broker()

    async def start_broker(self) -> None:
        """Connect to the broker once (declaring its stream, exchange or queue)."""
        assert self.broker is not None
        async with self._broker_lock:
            if not self._broker_started:
                await self.broker.startup()
                self._broker_started = True

    async def _schedule_forever(self) -> None:
        while not self._stopped:
            try:
                await self.schedule_due()
            except Exception as error:
                warn_of("schedule_not_kept", error)
            await self._pause(SCHEDULE_TICK_S)

    async def _create_schedules(self) -> None:
        """Give each periodic job its schedule row, first due one interval from now (kept when
        another process made it first). Done at start-up, before any request is served."""
        try:
            async with self.runner.looks() as looks:
                existing = await looks.schedules()
            now = utcnow()
            for periodic in periodic_jobs():
                if periodic.job.name in existing:
                    continue
                every = timedelta(seconds=periodic.every(self.settings))
                async with self.runner.repository() as (uow, jobs):
                    await jobs.schedule_once(periodic.job.name, first_run_at=now + every)
                    await uow.commit()
        except Exception as error:
            warn_of("schedule_not_created", error)

    async def schedule_due(self) -> None:
        """Enqueue each periodic job that is due, once across every process."""
        specs = periodic_jobs()
        if not specs:
            return
        now = utcnow()
        async with self.runner.looks() as looks:
            schedules = await looks.schedules()
        for periodic in specs:
            name = periodic.job.name
            due_at: datetime | None = schedules.get(name)
            if due_at is not None and due_at > now:
                continue
            every = timedelta(seconds=periodic.every(self.settings))
            if due_at is None:
                continue  # made at start-up; gone only if someone emptied the table
            async with self.runner.repository() as (uow, jobs):
                if await jobs.advance_schedule(name, now=now, next_run_at=now + every):
                    enqueue(uow, periodic.job, {"scheduled_at": due_at.isoformat()})
                    await uow.commit()

    async def depth(self) -> dict[str, int]:
        """Count the outbox by state and publish it as the queue-depth gauge."""
        async with self.runner.repository() as (_uow, jobs):
            counts = await jobs.depth()
        for state in ("queued", "sent", "running", "failed"):
            JOB_QUEUE_DEPTH.labels(state).set(counts.get(state, 0))
        return counts

    async def ready(self) -> bool:
        """Tell whether the queue can take jobs: the database (embedded) or the broker."""
        if self.embedded:
            return True
        try:
            async with asyncio.timeout(BROKER_CHECK_TIMEOUT_S):
                return await broker_reachable(self.settings)
        except Exception:
            return False


async def broker_reachable(settings: Settings) -> bool:
    """Open a connection of its own to the broker and close it again."""
    url = settings.queue_url
    assert url is not None
    if url.startswith(("redis://", "rediss://")):
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()
    if url.startswith(("amqp://", "amqps://")):
        import aio_pika

        connection = await aio_pika.connect(url, timeout=1)
        await connection.close()
        return True
    import nats

    nats_client = await nats.connect(
        url, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False
    )
    try:
        await nats_client.jetstream().account_info()
        return True
    finally:
        await nats_client.close()
