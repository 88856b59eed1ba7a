"""Run one claimed job: its handler, a lease kept alive while it runs, and its outcome."""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from uuid import UUID

import orjson
import structlog
from sqlalchemy.exc import SQLAlchemyError

from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.core.mail import Mailer
from parley.core.media_storage import MediaStorage
from parley.db.engine import Database
from parley.db.errors import is_database_unavailable
from parley.db.fast import reading
from parley.db.uow import UnitOfWork
from parley.jobs.registry import JobContext, RetryJob, get_job
from parley.jobs.repository import RUNNING, JobLooks, JobRepository
from parley.models.jobs import Job
from parley.ops.metrics import JOBS

log = structlog.get_logger("parley.jobs")


def warn_of(event: str, error: BaseException, **fields: str) -> None:
    """Log a background failure: a database that is away, or any error from the database layer
    (the loop retries it; a server restarting raises driver errors no SQLSTATE names), in one
    line; anything else with its trace."""
    if is_database_unavailable(error) or isinstance(error, SQLAlchemyError):
        # The driver's own message ("database is locked"), never the statement's parameters.
        reason = str(getattr(error, "orig", None) or error).split("\n", 1)[0][:160]
        log.warning(event, error=type(error).__name__, reason=reason, **fields)
    else:
        log.warning(event, exc_info=error, **fields)


def new_token() -> str:
    return secrets.token_hex(16)


class JobRunner:
    def __init__(
        self, *, settings: Settings, database: Database, mailer: Mailer, media: MediaStorage
    ) -> None:
        self.settings = settings
        self.database = database
        self.mailer = mailer
        self.media = media
        # When the next job is due, as the last claim read it (None: no job waits).
        self.next_due: datetime | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.job_lease)

    @asynccontextmanager
    async def repository(self) -> AsyncIterator[tuple[UnitOfWork, JobRepository]]:
        """A unit of work on a session of its own, and the outbox's repository on it."""
        async with self.database.sessions() as session, UnitOfWork(session) as uow:
            yield uow, JobRepository(session)

    @asynccontextmanager
    async def looks(self) -> AsyncIterator[JobLooks]:
        """The loops' idle reads, on a driver connection of this pool."""
        async with reading(self.database) as conn:
            yield JobLooks(conn, conn.dialect)

    async def claim_due(self, limit: int) -> list[Job]:
        """Claim up to `limit` due jobs to run in this process."""
        return await self.claim(limit, state=RUNNING)

    async def claim(
        self, limit: int, *, state: str, token: str | None = None, lease: timedelta | None = None
    ) -> list[Job]:
        """Claim up to `limit` due jobs, to run here (running) or to relay (sent); with none
        due, note in `next_due` when one will be."""
        now = utcnow()
        lease = lease or self.lease
        async with self.looks() as looks:
            self.next_due = await looks.next_due()
        if self.next_due is None or self.next_due > now:
            return []
        async with self.repository() as (uow, jobs):
            claimed = await jobs.claim_due(
                now=now,
                limit=limit,
                state=state,
                lease_until=now + lease,
                token=token or new_token(),
            )
            await uow.commit()
        return claimed

    async def run_delivered(self, job_id: str) -> None:
        """Run a job a broker delivered, unless it already ran or is running elsewhere."""
        try:
            key = UUID(job_id)
        except ValueError:
            log.error("job_message_malformed")
            return
        now = utcnow()
        async with self.repository() as (uow, jobs):
            job = await jobs.claim_sent(
                key, now=now, lease_until=now + self.lease, token=new_token()
            )
            await uow.commit()
        if job is None:
            log.info("job_already_handled", job_id=job_id)
            return
        await self.run(job)

    async def run(self, job: Job) -> None:
        """Run a job this process has claimed, and settle it: done, retried or given up."""
        assert job.claim is not None
        spec = get_job(job.name)
        if spec is None:
            await self._give_up(job, f"no job is named {job.name!r} here")
            return
        context = JobContext(
            settings=self.settings,
            database=self.database,
            mailer=self.mailer,
            media=self.media,
            job_id=str(job.id),
            attempt=job.attempts,
        )
        keeper = asyncio.create_task(self._keep_lease(job.id, job.claim))
        try:
            await spec.handler(context, orjson.loads(job.payload))
        except RetryJob as retry:
            await self._retry(job, retry.after, str(retry))
        except Exception as error:
            warn_of("job_failed", error, job=job.name, job_id=str(job.id))
            if job.attempts >= job.max_attempts:
                await self._give_up(job, f"{type(error).__name__}: {error}")
            else:
                await self._retry(job, spec.delay_after(job.attempts), type(error).__name__)
        else:
            async with self.repository() as (uow, jobs):
                await jobs.finish(job.id, token=job.claim)
                await uow.commit()
            JOBS.labels(job.name, "succeeded").inc()
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _retry(self, job: Job, after: timedelta, error: str) -> None:
        assert job.claim is not None
        if job.attempts >= job.max_attempts:
            await self._give_up(job, error)
            return
        async with self.repository() as (uow, jobs):
            await jobs.requeue([job.id], token=job.claim, run_at=utcnow() + after, error=error)
            await uow.commit()
        JOBS.labels(job.name, "retried").inc()

    async def _give_up(self, job: Job, error: str) -> None:
        assert job.claim is not None
        log.error("job_gave_up", job=job.name, job_id=str(job.id), attempts=job.attempts)
        async with self.repository() as (uow, jobs):
            await jobs.give_up(job.id, token=job.claim, error=error)
            await uow.commit()
        JOBS.labels(job.name, "failed").inc()

    async def _keep_lease(self, job_id: UUID, token: str) -> None:
        """Renew the claim while the handler runs, so a slow job is not taken as abandoned."""
        interval = max(self.settings.job_lease / 3, 0.2)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.repository() as (uow, jobs):
                    await jobs.renew(job_id, token=token, lease_until=utcnow() + self.lease)
                    await uow.commit()
            except Exception as error:
                warn_of("job_lease_not_renewed", error, job_id=str(job_id))
