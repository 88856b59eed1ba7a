"""Jobs in the embedded queue: written in the transaction, run by the app itself, retried,
claimed once across processes, scheduled once, purging what expired. No broker, no Redis."""

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, select, update

from parley.core.clock import utcnow
from parley.core.ids import new_id
from parley.core.mail import Mail
from parley.db import fast
from parley.db.uow import UnitOfWork
from parley.jobs import JobContext, JobSpec, Payload, enqueue, job, periodic
from parley.models.jobs import Job
from parley.models.user import LoginSession
from tests.conftest import Account, make_client, sign_up
from tests.support.polling import eventually

API = "/api/v1"
RUNS: dict[str, list[float]] = defaultdict(list)
TICKS: list[str] = []


@job("tests.record", backoff=timedelta(milliseconds=50))
async def record(_ctx: JobContext, payload: Payload) -> None:
    RUNS[payload["tag"]].append(time.monotonic())


@job("tests.flaky", max_attempts=5, backoff=timedelta(milliseconds=200))
async def flaky(_ctx: JobContext, payload: Payload) -> None:
    RUNS[payload["tag"]].append(time.monotonic())
    if len(RUNS[payload["tag"]]) <= payload["failures"]:
        raise RuntimeError("not yet")


@job("tests.hopeless", max_attempts=2, backoff=timedelta(milliseconds=50))
async def hopeless(_ctx: JobContext, payload: Payload) -> None:
    RUNS[payload["tag"]].append(time.monotonic())
    raise RuntimeError("never")


@job("tests.slow", backoff=timedelta(milliseconds=50))
async def slow(_ctx: JobContext, payload: Payload) -> None:
    RUNS[payload["tag"]].append(time.monotonic())
    await asyncio.sleep(0.3)


@periodic("tests.tick", every=lambda settings: settings.purge_interval)
async def tick(_ctx: JobContext, payload: Payload) -> None:
    TICKS.append(payload["scheduled_at"])


async def _enqueue(app: FastAPI, spec: JobSpec, payload: Payload, *, commit: bool = True) -> None:
    async with app.state.resources.database.sessions() as session, UnitOfWork(session) as uow:
        enqueue(uow, spec, payload)
        if commit:
            await uow.commit()


async def _jobs(app: FastAPI) -> list[Job]:
    async with app.state.resources.database.sessions() as session:
        return list((await session.scalars(select(Job))).all())


def _tag() -> str:
    return new_id().hex


async def test_a_job_runs_after_its_transaction_commits_and_is_then_deleted(app: FastAPI) -> None:
    tag = _tag()
    await _enqueue(app, record, {"tag": tag})

    await eventually(lambda: len(RUNS[tag]) == 1, what="the job's run")
    await eventually(lambda: _no_jobs(app), what="the job's deletion")


async def _no_jobs(app: FastAPI) -> bool:
    return await _jobs(app) == []


async def test_a_rolled_back_transaction_leaves_no_job(app: FastAPI) -> None:
    tag = _tag()
    await _enqueue(app, record, {"tag": tag}, commit=False)
    await _enqueue(app, record, {"tag": "after-" + tag})

    await eventually(lambda: len(RUNS["after-" + tag]) == 1, what="the later job's run")
    assert RUNS[tag] == []


async def test_a_failing_job_runs_again_after_growing_delays(app: FastAPI) -> None:
    tag = _tag()
    await _enqueue(app, flaky, {"tag": tag, "failures": 2})

    await eventually(lambda: len(RUNS[tag]) == 3, what="the third attempt")
    first, second, third = RUNS[tag]
    assert second - first >= 0.2  # backoff, then twice that
    assert third - second >= 0.4
    await eventually(lambda: _no_jobs(app), what="the job's deletion")
    metrics = (await make_client(app).get("/metrics")).text
    assert 'parley_jobs_total{job="tests.flaky",outcome="retried"}' in metrics
    assert 'parley_jobs_total{job="tests.flaky",outcome="succeeded"} 1.0' in metrics


async def test_a_job_that_keeps_failing_gives_up_and_is_kept_as_failed(app: FastAPI) -> None:
    tag = _tag()
    await _enqueue(app, hopeless, {"tag": tag})

    async def failed() -> bool:
        return [j.state for j in await _jobs(app)] == ["failed"]

    await eventually(failed, what="the job giving up")
    assert len(RUNS[tag]) == 2
    [kept] = await _jobs(app)
    assert kept.attempts == 2 and "never" in (kept.last_error or "")
    async with make_client(app) as http:
        metrics = (await http.get("/metrics")).text
    assert 'parley_jobs_total{job="tests.hopeless",outcome="failed"} 1.0' in metrics
    assert 'parley_job_queue_depth{state="failed"} 1.0' in metrics


async def test_a_job_whose_claim_ran_out_runs_again(app: FastAPI) -> None:
    # A process claimed this job and died: its lease ran out a second ago.
    tag = _tag()
    async with app.state.resources.database.sessions() as session, UnitOfWork(session) as uow:
        session.add(
            Job(
                id=new_id(),
                name="tests.record",
                payload=f'{{"tag": "{tag}"}}',
                state="running",
                run_at=utcnow() - timedelta(minutes=1),
                lease_until=utcnow() - timedelta(seconds=1),
                claim="dead" * 8,
                attempts=1,
                max_attempts=8,
            )
        )
        await uow.commit()

    await eventually(lambda: len(RUNS[tag]) == 1, what="the abandoned job's run")


async def test_two_processes_run_each_job_once(app_factory: Callable[..., Any]) -> None:
    first = await app_factory()
    await app_factory()  # a second `parley serve` on the same database
    tags = [_tag() for _ in range(12)]
    for tag in tags:
        await _enqueue(first, slow, {"tag": tag})

    await eventually(lambda: all(RUNS[tag] for tag in tags), what="every job's run")
    await eventually(lambda: _no_jobs(first), what="every job's deletion")
    assert [len(RUNS[tag]) for tag in tags] == [1] * len(tags)


async def test_a_periodic_job_is_enqueued_once_per_period_across_processes(
    app_factory: Callable[..., Any],
) -> None:
    TICKS.clear()
    await app_factory(purge_interval=1)
    await app_factory(purge_interval=1)

    await eventually(lambda: len(TICKS) >= 3, what="three periods")
    assert len(TICKS) == len(set(TICKS))


async def test_an_idle_process_looks_for_due_jobs_on_the_driver_connection(
    app: FastAPI,
) -> None:
    """Every second the job loop asks whether a job is due and the schedule loop whether a
    periodic job is: plain reads on the driver connection, nothing through the ORM."""
    jobs_engine = app.state.resources.jobs.database.engine.sync_engine
    through_orm: list[str] = []
    looks: list[str] = []

    def on_orm(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        through_orm.append(statement)

    def on_driver(statement: str, _args: list[Any]) -> None:
        looks.append(statement)

    await eventually(lambda: _no_jobs(app), what="an idle outbox")
    event.listen(jobs_engine, "before_cursor_execute", on_orm)
    fast.statement_observers.append(on_driver)
    try:
        await asyncio.sleep(2.5)
    finally:
        fast.statement_observers.remove(on_driver)
        event.remove(jobs_engine, "before_cursor_execute", on_orm)
    assert sum("FROM jobs" in sql for sql in looks) >= 2
    assert sum("FROM job_schedules" in sql for sql in looks) >= 2
    assert through_orm == []


async def test_the_reset_mail_is_a_job_in_the_database_before_the_answer(
    app_factory: Callable[..., Any], mailer: Any
) -> None:
    release = asyncio.Event()
    original = mailer.send

    async def held(mail: Mail) -> None:
        if "/reset-password" in mail.body:
            await release.wait()
        await original(mail)

    mailer.send = held
    app = await app_factory()
    async with make_client(app) as http:
        alice = await sign_up(http)
        await mailer.wait_for(to=alice.email, containing="/verify-email")
        await eventually(lambda: _no_jobs(app), what="the verification mail's job to end")
        response = await http.post(f"{API}/auth/password/forgot", json={"email": alice.email})
        assert response.status_code == 202
        [queued] = await _jobs(app)
        # Queued mail is sealed: the jobs table never holds an address or a link in the clear.
        assert queued.name == "mail.send" and alice.email not in queued.payload
        release.set()
        [mail] = await mailer.wait_for(to=alice.email, containing="/reset-password")
        assert mail.to == alice.email
        await eventually(lambda: _no_jobs(app), what="the job's deletion")


async def test_expired_login_sessions_are_purged_and_live_ones_kept(
    app_factory: Callable[..., Any],
) -> None:
    app = await app_factory(purge_interval=1)
    async with make_client(app) as http:
        old = await sign_up(http)
        live = await sign_up(http)
    database = app.state.resources.database
    async with database.sessions() as session, UnitOfWork(session) as uow:
        await session.execute(
            update(LoginSession)
            .where(LoginSession.id == _uuid(old))
            .values(expires_at=utcnow() - timedelta(days=2))
        )
        await uow.commit()

    async def purged() -> bool:
        async with database.sessions() as session:
            ids = set((await session.scalars(select(LoginSession.id))).all())
        return _uuid(old) not in ids

    await eventually(purged, what="the purge")
    async with make_client(app) as http:
        me = await http.get(f"{API}/users/me", headers=live.headers)
    assert me.status_code == 200


def _uuid(account: Account) -> Any:
    from uuid import UUID

    return UUID(account.session_id)


async def test_ready_says_the_queue_is_embedded(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.json()["data"]["queue"] == "embedded"


async def test_events_and_audit_entries_past_their_retention_are_purged_by_the_schedule(
    app_factory: Callable[..., Any],
) -> None:
    app = await app_factory(purge_interval=1, event_retention=1, audit_retention=1)
    async with make_client(app) as http:
        account = await sign_up(http)
        created = await http.post(
            f"{API}/sessions", json={"title": "Old news"}, headers=account.headers
        )
        assert created.status_code == 201

        async def feed() -> list[Any]:
            page = await http.get(f"{API}/events", headers=account.headers)
            assert page.status_code == 200
            items: list[Any] = page.json()["data"]["items"]
            return items

        async def history() -> list[Any]:
            page = await http.get(f"{API}/users/me/audit", headers=account.headers)
            assert page.status_code == 200
            items: list[Any] = page.json()["data"]["items"]
            return items

        async def events_gone() -> bool:
            return not await feed()

        async def sign_up_gone() -> bool:
            return all(e["action"] != "auth.register" for e in await history())

        await eventually(events_gone, what="the events purge")
        await eventually(sign_up_gone, what="the audit purge")
        # The chat session itself is untouched: only its history went.
        kept = await http.get(
            f"{API}/sessions/{created.json()['data']['id']}", headers=account.headers
        )
        assert kept.status_code == 200
