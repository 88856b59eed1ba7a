"""The one way to send mail: `send_mail(uow, mail, settings=…)` inside the transaction that
decides it.

A queued mail may carry a secret (a reset or verification link), so it is stored sealed: the
jobs table, the broker and any log of either never hold it in the clear.
"""

from datetime import timedelta

import orjson

from parley.core.config import Settings
from parley.core.encryption import SecretBox
from parley.core.mail import Mail
from parley.db.uow import UnitOfWork
from parley.jobs.outbox import enqueue
from parley.jobs.registry import JobContext, Payload, job

MAIL_PURPOSE = "queued-mail"


@job("mail.send", max_attempts=8, backoff=timedelta(seconds=30))
async def deliver_mail(ctx: JobContext, payload: Payload) -> None:
    """Hand the mail to the mailer (SMTP, or the log). A delivered message is not run again;
    only a worker dying between the SMTP server's acceptance and the job's end sends twice."""
    fields = orjson.loads(_box(ctx.settings).open(payload["sealed"]))
    await ctx.mailer.send(Mail(to=fields["to"], subject=fields["subject"], body=fields["body"]))


def send_mail(uow: UnitOfWork, mail: Mail, *, settings: Settings) -> None:
    """Send `mail` once the unit of work commits (never if it rolls back), retried until it goes."""
    fields = {"to": mail.to, "subject": mail.subject, "body": mail.body}
    enqueue(uow, deliver_mail, {"sealed": _box(settings).seal(orjson.dumps(fields).decode())})


def _box(settings: Settings) -> SecretBox:
    return SecretBox.for_settings(settings, purpose=MAIL_PURPOSE)
