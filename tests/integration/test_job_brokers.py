"""Jobs through the real brokers on this machine (Redis Streams, RabbitMQ, NATS JetStream),
each skipped when unreachable: a real `parley serve` relays, real `parley worker` processes run
the jobs, a real SMTP server receives the mail, and a worker killed mid-job leaves its job to
another."""

import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from parley.core.ids import new_id
from tests.conftest import PASSWORD
from tests.support.parley_server import (
    SQLITE_PASS_ONLY,
    ParleyServer,
    ask_for_reset_mail,
    running_parley,
)
from tests.support.parley_worker import ParleyWorker, start_worker
from tests.support.polling import eventually
from tests.support.servers import own_redis, spare_port
from tests.support.smtp_relay import SmtpServer, reset_mails, smtp_server

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
}
API = "/api/v1"
pytestmark = [SQLITE_PASS_ONLY, pytest.mark.slow]


async def _forgot(server: ParleyServer) -> str:
    return await ask_for_reset_mail(server, prefix="broker", password=PASSWORD)


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=sorted(BROKERS))
def queue_url(request: pytest.FixtureRequest) -> str:
    url = BROKERS[request.param]
    if not _reachable(url):
        pytest.skip(f"{request.param} is not reachable at {url}")
    return url


@pytest.fixture
def mail_server() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def queue_name(queue_url: str) -> AsyncIterator[str]:
    """A queue of this test's own (other runs on this machine use the same brokers), removed
    from the broker afterwards."""
    name = f"parley-test-{new_id().hex}"
    yield name
    await _remove_queue(queue_url, name)


async def _remove_queue(url: str, name: str) -> None:
    if url.startswith("redis://"):
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url)
        await client.delete(name, f"autoclaim:parley-workers:{name}")
        await client.aclose()
    elif url.startswith("amqp://"):
        import aio_pika

        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            for queue in (name, f"{name}.dead-letter"):
                await channel.queue_delete(queue)
            await channel.exchange_delete(name)
    else:
        import nats

        client = await nats.connect(url)
        await client.jetstream().delete_stream(name)
        await client.close()


def _env(queue_url: str, mail: SmtpServer, name: str) -> dict[str, str]:
    return {
        "QUEUE_URL": queue_url,
        "QUEUE_NAME": name,
        "JOB_LEASE": "2",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
    }


async def _ready(server: ParleyServer) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
        return await http.get("/health/ready")


def _mailed(mail: SmtpServer, email: str) -> list[Message]:
    return reset_mails(mail, email)


async def test_a_worker_runs_the_jobs_the_server_relays(
    tmp_path: Path, queue_url: str, queue_name: str, mail_server: SmtpServer
) -> None:
    env = _env(queue_url, mail_server, queue_name)
    with running_parley(tmp_path, env=env) as server:
        worker = start_worker(tmp_path, "a", env)
        try:
            email = await _forgot(server)
            await eventually(
                lambda: bool(_mailed(mail_server, email)), within=60, what="the reset mail"
            )
            ready = await _ready(server)
            assert ready.status_code == 200 and ready.json()["data"]["queue"] == "ok"
        finally:
            worker.kill()
    assert len(_mailed(mail_server, email)) == 1


async def test_a_job_left_by_a_killed_worker_completes_on_another(
    tmp_path: Path, queue_url: str, queue_name: str, mail_server: SmtpServer
) -> None:
    env = _env(queue_url, mail_server, queue_name)
    workers: list[ParleyWorker] = []
    with running_parley(tmp_path, env=env) as server:
        try:
            workers.append(start_worker(tmp_path, "doomed", env))
            mail_server.hold()  # the worker will connect and wait for a greeting, mid-job
            connected = mail_server.connections
            email = await _forgot(server)
            await eventually(
                lambda: mail_server.connections > connected, within=60, what="the mid-job stall"
            )
            workers[0].kill()
            workers.append(start_worker(tmp_path, "heir", env))
            mail_server.release()
            await eventually(
                lambda: bool(_mailed(mail_server, email)),
                within=60,
                what="the mail, by the other worker",
            )
        finally:
            for worker in workers:
                worker.kill()
    assert "mail_sent" in workers[1].log


async def test_ready_is_503_while_the_broker_is_unreachable(
    tmp_path: Path, mail_server: SmtpServer
) -> None:
    env = _env(f"redis://127.0.0.1:{spare_port()}/0", mail_server, "parley-test-unreachable")
    with running_parley(tmp_path, env=env) as server:
        email = await ask_for_reset_mail(
            server, prefix="broker", password=PASSWORD
        )  # the job waits in the outbox
        ready = await _ready(server)
        assert ready.status_code == 503
        assert "queue" in ready.json()["message"] and ready.headers["Retry-After"]
    assert _mailed(mail_server, email) == []


async def test_jobs_made_while_the_broker_is_down_run_once_it_is_back(
    tmp_path: Path, mail_server: SmtpServer
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with own_redis() as redis:
        env = _env(redis.url, mail_server, "parley-test-outage")
        with running_parley(tmp_path, env=env) as server:
            redis.stop()
            email = await ask_for_reset_mail(
                server, prefix="broker", password=PASSWORD
            )  # committed with its job; the relay cannot send it
            assert (await _ready(server)).status_code == 503
            redis.start()
            worker = start_worker(tmp_path, "after-outage", env)
            try:
                await eventually(
                    lambda: bool(_mailed(mail_server, email)),
                    within=60,
                    what="the mail after the outage",
                )
                assert (await _ready(server)).status_code == 200
            finally:
                worker.kill()
    assert len(_mailed(mail_server, email)) == 1
