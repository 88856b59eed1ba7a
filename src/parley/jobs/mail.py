"""The one way to send mail: `send_mail(uow, mail)` inside the transaction that decides it."""

from datetime import timedelta

from parley.core.mail import Mail
from parley.db.uow import UnitOfWork
from parley.jobs.outbox import enqueue
from parley.jobs.registry import JobContext, Payload, job


@job("mail.send", max_attempts=8, backoff=timedelta(seconds=30))
async def deliver_mail(ctx: JobContext, payload: Payload) -> None:
    """Hand the mail to the mailer (SMTP, or the log). A delivered message is not run again;
    only a worker dying between the SMTP server's acceptance and the job's end sends twice."""
    await ctx.mailer.send(Mail(to=payload["to"], subject=payload["subject"], body=payload["body"]))


def send_mail(uow: UnitOfWork, mail: Mail) -> None:
    """Send `mail` once the unit of work commits (never if it rolls back), retried until it goes."""
    enqueue(uow, deliver_mail, {"to": mail.to, "subject": mail.subject, "body": mail.body})
