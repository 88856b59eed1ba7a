"""Email verification links: issued inside the caller's transaction, mailed after commit.

Every message goes out as a job (`parley.jobs.mail.send_mail`), written in the transaction of
the change that causes it: a rolled-back change mails nothing, and an answer takes as long
whether or not a message goes out (no account enumeration).
"""

from datetime import timedelta
from uuid import UUID

from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.core.mail import Mail
from parley.core.tokens import hash_opaque_token, new_opaque_token
from parley.db.uow import UnitOfWork
from parley.jobs.mail import send_mail
from parley.models.accounts import EmailVerificationToken
from parley.users.repository import EmailVerificationRepository

VERIFICATION_LIFETIME = timedelta(hours=24)
# Where the mailed link leads, under PUBLIC_BASE_URL.
VERIFY_EMAIL_PATH = "/verify-email"


def verification_mail(settings: Settings, address: str, token: str) -> Mail:
    link = f"{settings.public_base_url}{VERIFY_EMAIL_PATH}?token={token}"
    return Mail(
        to=address,
        subject="Confirm your email address for Parley",
        body=(
            "Please confirm that this address belongs to your Parley account.\n\n"
            f"Open this link within 24 hours:\n{link}\n\n"
            "If you did not sign up or change your email, ignore this message.\n"
        ),
    )


def email_changed_notice(old_address: str, new_address: str) -> Mail:
    return Mail(
        to=old_address,
        subject="The email address of your Parley account was changed",
        body=(
            f"The email address of your Parley account was changed to {new_address}.\n\n"
            "If you did not make this change, reset your password and contact support.\n"
        ),
    )


class EmailVerification:
    """Issues verification links inside the caller's transaction; mails them after commit."""

    def __init__(self, uow: UnitOfWork, *, settings: Settings) -> None:
        self.uow = uow
        self.settings = settings
        self.tokens = EmailVerificationRepository(uow.session)

    def send_link(self, user_id: UUID, address: str, *, email_key: str) -> None:
        token = new_opaque_token()
        now = utcnow()
        self.tokens.add(
            EmailVerificationToken(
                user_id=user_id,
                email_key=email_key,
                token_hash=hash_opaque_token(token),
                created_at=now,
                expires_at=now + VERIFICATION_LIFETIME,
            )
        )
        send_mail(
            self.uow, verification_mail(self.settings, address, token), settings=self.settings
        )

    def notify_change(self, old_address: str, new_address: str) -> None:
        send_mail(self.uow, email_changed_notice(old_address, new_address), settings=self.settings)
