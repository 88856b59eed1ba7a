"""Waiting for the mail a test's requests caused, all of it, before asserting what was not sent."""

from fastapi import FastAPI
from sqlalchemy import func, select

from parley.jobs.mail import deliver_mail
from parley.models.jobs import Job
from tests.support.polling import eventually


async def all_mail_delivered(application: FastAPI) -> None:
    """Return once every mail caused so far has been handed to the mailer.

    A mail job is written before the request that causes it answers and deleted once the
    mailer (an SMTP server, or the tests' recording mailer) has taken the message. Jobs run in
    no fixed order, so "a later mail arrived" would prove nothing about an earlier one.
    """
    database = application.state.resources.database

    async def none_left() -> bool:
        async with database.sessions() as db:
            query = select(func.count()).select_from(Job).where(Job.name == deliver_mail.name)
            return await db.scalar(query) == 0

    await eventually(none_left, what="the delivery of every queued mail")
