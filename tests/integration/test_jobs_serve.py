"""The embedded queue across a restart of a real `parley serve`: no broker, no Redis. A job cut
short by the stop runs after the next start; two workers share one database."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, unique_email
from tests.support.parley_server import ParleyServer, running_parley, start_parley
from tests.support.smtp_relay import SmtpServer, smtp_server

API = "/api/v1"
pytestmark = pytest.mark.slow


async def _eventually(check: object, what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} did not happen within {within} s"
        await asyncio.sleep(0.1)


async def _forgot(server: ParleyServer) -> str:
    email = unique_email("restart")
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        registered = await http.post(
            f"{API}/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        asked = await http.post(f"{API}/auth/password/forgot", json={"email": email})
        assert asked.status_code == 202, asked.text
    return email


def _env(mail: SmtpServer) -> dict[str, str]:
    return {"JOB_LEASE": "2", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mail.port)}


async def test_a_job_cut_short_by_a_stop_runs_after_the_next_start(tmp_path: Path) -> None:
    with smtp_server() as mail:
        env = _env(mail)
        server = start_parley(tmp_path, env=env)
        try:
            server.wait_until_serving()
            mail.hold()  # the job connects and waits for a greeting that does not come
            connected = mail.connections
            email = await _forgot(server)
            await _eventually(lambda: mail.connections > connected, "the job's start")
            assert server.terminate() == 0
        finally:
            server.kill()
        mail.release()
        assert [m for m in mail.received if m["To"] == email] == []

        with running_parley(tmp_path, env=env):
            await _eventually(
                lambda: [m for m in mail.received if m["To"] == email], "the mail after restart"
            )
    assert len([m for m in mail.received if m["To"] == email]) == 1


async def test_two_workers_send_each_mail_once(tmp_path: Path) -> None:
    with smtp_server() as mail, running_parley(tmp_path, env=_env(mail), workers=2) as server:
        emails = [await _forgot(server) for _ in range(6)]
        await _eventually(lambda: len(mail.received) >= len(emails), "every mail")
        await asyncio.sleep(1)  # room for a duplicate to show up, were there one
    assert sorted(m["To"] for m in mail.received) == sorted(emails)
