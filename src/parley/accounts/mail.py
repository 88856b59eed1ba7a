"""The mail this domain sends.

Every message goes out as a job (`parley.jobs.mail.send_mail`), written in the transaction of
the change that causes it: a rolled-back change mails nothing, and an answer takes as long
whether or not a message goes out (no account enumeration).
"""

from parley.core.config import Settings
from parley.core.mail import Mail

# Where the mailed links lead, under PUBLIC_BASE_URL.
VERIFY_EMAIL_PATH = "/verify-email"
LOGIN_SESSIONS_PATH = "/login-sessions"


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
