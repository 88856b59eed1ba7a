"""The embedded queue across a restart of a real `parley serve`: no broker, no Redis. A job cut
short by the stop runs after the next start; two workers share one database."""

import asyncio
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.support.parley_server import (
    SQLITE_PASS_ONLY,
    ParleyServer,
    ask_for_reset_mail,
    running_parley,
    start_parley,
)
from tests.support.polling import eventually
from tests.support.smtp_relay import SmtpServer, reset_mails, smtp_server

API = "/api/v1"
pytestmark = [SQLITE_PASS_ONLY, pytest.mark.slow]


async def _forgot(server: ParleyServer) -> str:
    return await ask_for_reset_mail(server, prefix="restart", password=PASSWORD)


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
            await eventually(
                lambda: mail.connections > connected, within=60, what="the job's start"
            )
            assert server.terminate() == 0
        finally:
            server.kill()
        mail.release()
        assert reset_mails(mail, email) == []

        with running_parley(tmp_path, env=env):
            await eventually(
                lambda: bool(reset_mails(mail, email)),
                within=60,
                what="the mail after restart",
            )
    assert len(reset_mails(mail, email)) == 1


async def test_two_workers_send_each_mail_once(tmp_path: Path) -> None:
    with smtp_server() as mail, running_parley(tmp_path, env=_env(mail), workers=2) as server:
        emails = [await _forgot(server) for _ in range(6)]
        await eventually(
            lambda: len(reset_mails(mail)) >= len(emails), within=60, what="every mail"
        )
        await asyncio.sleep(1)  # room for a duplicate to show up, were there one
    assert sorted(m["To"] for m in reset_mails(mail)) == sorted(emails)
