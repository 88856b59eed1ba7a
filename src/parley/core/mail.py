"""Outgoing mail: SMTP when configured, otherwise written to the log."""

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import structlog

from parley.core.config import Settings

log = structlog.get_logger("parley.mail")

# The value of each query parameter of a link: where mailed links carry their tokens.
_QUERY_VALUE = re.compile(r"([?&][^=\s&#]+=)[^\s&#]+")
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


def redact_links(body: str) -> str:
    """`body` with the query values of its links (their tokens) replaced by `[redacted]`."""
    return _QUERY_VALUE.sub(rf"\1{REDACTED}", body)


class LogMailer:
    """Writes mail to the log when no SMTP server is configured. Outside development the links'
    tokens are redacted: a log is read by more people than a mailbox, and kept longer."""

    def __init__(self, *, reveal_links: bool = False) -> None:
        self.reveal_links = reveal_links

    async def send(self, mail: Mail) -> None:
        body = mail.body if self.reveal_links else redact_links(mail.body)
        log.info("mail_logged", to=mail.to, subject=mail.subject, body=body)


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self._settings = settings

    async def send(self, mail: Mail) -> None:
        settings = self._settings
        message = EmailMessage()
        message["From"] = settings.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=None,  # upgrade when the server offers STARTTLS
            timeout=10,
        )
        log.info("mail_sent", subject=mail.subject)


def create_mailer(settings: Settings) -> Mailer:
    """SMTP when SMTP_HOST is set; otherwise the log, which outside development says so once
    (its mail reaches nobody, and its links are redacted)."""
    if settings.smtp_host:
        return SmtpMailer(settings)
    if not settings.is_development:
        log.warning(
            "mail_not_sent",
            reason="SMTP_HOST is not set: mail is written to the log, its links redacted",
            environment=settings.environment.value,
        )
    return LogMailer(reveal_links=settings.is_development)
