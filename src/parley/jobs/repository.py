"""All SQL on the job outbox and the periodic schedule."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import Dialect, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.db.fast import Driver, compiled_text
from parley.db.repository import rows_changed
from parley.db.session import begin_write
from parley.models.jobs import Job, JobSchedule

QUEUED, SENT, RUNNING, FAILED = "queued", "sent", "running", "failed"
MAX_ERROR = 500


def _claimable(now: datetime) -> object:
    """Due and waiting, or held by a claim whose lease ran out (its holder died)."""
    return or_(
        and_(Job.state == QUEUED, Job.run_at <= now),
        and_(Job.state.in_((SENT, RUNNING)), Job.lease_until <= now),
    )


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, job: Job) -> None:
        self.session.add(job)

    async def claim_due(
        self, *, now: datetime, limit: int, state: str, lease_until: datetime, token: str
    ) -> list[Job]:
        """Claim up to `limit` claimable jobs for this process: one holder at a time.

        PostgreSQL and MariaDB skip rows another claimer has locked; SQLite's claimer holds the
        database's single write lock (BEGIN IMMEDIATE) for the whole claim.
        """
        await begin_write(self.session)
        ids = (
            await self.session.scalars(
                select(Job.id)
                .where(_claimable(now))  # type: ignore[arg-type]
                .order_by(Job.run_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not ids:
            return []
        values: dict[str, object] = {"state": state, "lease_until": lease_until, "claim": token}
        if state == RUNNING:
            values["attempts"] = Job.attempts + 1
        await self.session.execute(
            update(Job)
            .where(Job.id.in_(ids))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return list((await self.session.scalars(select(Job).where(Job.claim == token))).all())

    async def claim_sent(
        self, job_id: UUID, *, now: datetime, lease_until: datetime, token: str
    ) -> Job | None:
        """Claim a job a broker delivered, unless it already ran or runs elsewhere right now."""
        result = await self.session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                or_(Job.state == SENT, and_(Job.state == RUNNING, Job.lease_until <= now)),
            )
            .values(state=RUNNING, lease_until=lease_until, claim=token, attempts=Job.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if rows_changed(result) == 0:
            return None
        return await self.session.scalar(select(Job).where(Job.claim == token))

    async def renew(self, job_id: UUID, *, token: str, lease_until: datetime) -> bool:
        result = await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.claim == token)
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result) == 1

    async def finish(self, job_id: UUID, *, token: str) -> None:
        await self.session.execute(
            delete(Job)
            .where(Job.id == job_id, Job.claim == token)
            .execution_options(synchronize_session=False)
        )

    async def requeue(
        self, job_ids: Sequence[UUID], *, token: str, run_at: datetime, error: str | None
    ) -> None:
        """Put claimed jobs back to wait until `run_at` (a retry, or a relay that failed)."""
        await self.session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.claim == token)
            .values(
                state=QUEUED,
                run_at=run_at,
                lease_until=None,
                claim=None,
                last_error=error[:MAX_ERROR] if error else None,
            )
            .execution_options(synchronize_session=False)
        )

    async def give_up(self, job_id: UUID, *, token: str, error: str) -> None:
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.claim == token)
            .values(state=FAILED, lease_until=None, claim=None, last_error=error[:MAX_ERROR])
            .execution_options(synchronize_session=False)
        )

    async def purge_failed(self, *, before: datetime) -> int:
        result = await self.session.execute(
            delete(Job)
            .where(Job.state == FAILED, Job.created_at < before)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result)

    async def depth(self) -> dict[str, int]:
        """How many jobs are in each state."""
        rows = await self.session.execute(select(Job.state, func.count()).group_by(Job.state))
        return {row[0]: row[1] for row in rows}

    async def schedule_once(self, name: str, *, first_run_at: datetime) -> None:
        """Create the schedule row of a periodic job unless another process already has."""
        await begin_write(self.session)
        try:
            async with self.session.begin_nested():
                self.session.add(JobSchedule(name=name, next_run_at=first_run_at))
        except IntegrityError:
            pass

    async def advance_schedule(self, name: str, *, now: datetime, next_run_at: datetime) -> bool:
        """Move a due schedule forward; True for the one process whose update did it."""
        result = await self.session.execute(
            update(JobSchedule)
            .where(JobSchedule.name == name, JobSchedule.next_run_at <= now)
            .values(next_run_at=next_run_at)
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result) == 1


# When a claim will next find something: the earliest queued job's run_at, and the earliest
# end of a claim's lease.
_NEXT_DUE = """
SELECT (SELECT min(run_at) FROM jobs WHERE state = :queued),
       (SELECT min(lease_until) FROM jobs WHERE state IN (:sent, :running))
"""
_SCHEDULES = "SELECT name, next_run_at FROM job_schedules"
# The looks' statements, which run beside whatever else the process does.
IDLE_LOOKS = (_NEXT_DUE, _SCHEDULES)


class JobLooks:
    """The reads the job loops make every second or so, with nothing to do most times: on the
    driver connection (db/fast.py), where through the ORM each cost the event loop about
    1.2 ms in one piece, beside the requests. Plain reads: an idle look never writes."""

    def __init__(self, db: Driver, dialect: Dialect) -> None:
        self.db = db
        self.dialect = dialect

    async def next_due(self) -> datetime | None:
        """When a claim will next find something; None when no job waits or runs."""
        statement = compiled_text("jobs.next_due", self.dialect, _NEXT_DUE)
        params = {"queued": QUEUED, "sent": SENT, "running": RUNNING}
        row = (await self.db.fetch(statement, params))[0]
        found = [self.db.time_value(moment) for moment in row if moment is not None]
        return min(found) if found else None

    async def schedules(self) -> dict[str, datetime]:
        """Each periodic job's next run, by name."""
        statement = compiled_text("jobs.schedules", self.dialect, _SCHEDULES)
        rows = await self.db.fetch(statement, {})
        return {name: self.db.time_value(moment) for name, moment in rows}
