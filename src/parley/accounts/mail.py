"""The mail this domain sends, and the one way it sends it.

Every message goes through `queue_mail`: after the transaction commits, in the background, so
an answer takes as long whether or not a message goes out (no account enumeration) and a
rolled-back change mails nothing.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any

from parley.core.config import Settings
from parley.core.mail import Mail, Mailer
from parley.db.uow import UnitOfWork

_background: set[asyncio.Task[None]] = set()

# Where the mailed links lead, under PUBLIC_BASE_URL.
VERIFY_EMAIL_PATH = "/verify-email"
LOGIN_SESSIONS_PATH = "/login-sessions"


def queue_mail(uow: UnitOfWork, mailer: Mailer, mail: Mail) -> None:
    """Send `mail` once the unit of work has committed; never if it rolls back."""
    uow.after_commit(lambda: _spawn(mailer.send(mail)))


def _spawn(coroutine: Coroutine[Any, Any, None]) -> None:
    task = asyncio.create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


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


def new_device_notice(
    settings: Settings, address: str, *, device: str, ip_address: str | None
) -> Mail:
    link = f"{settings.public_base_url}{LOGIN_SESSIONS_PATH}"
    return Mail(
        to=address,
        subject="New sign-in to your Parley account",
        body=(
            "Your Parley account was just signed in to from a device not seen recently:\n\n"
            f"  Device: {device}\n  IP address: {ip_address or 'unknown'}\n\n"
            f"If this was you, nothing needs doing. If not, review your login sessions and "
            f"revoke this one, then change your password:\n{link}\n"
        ),
    )
