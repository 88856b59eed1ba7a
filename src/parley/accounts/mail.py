"""The mail this domain sends.

Every message goes out as a job (`parley.jobs.mail.send_mail`), written in the transaction of
the change that causes it: a rolled-back change mails nothing, and an answer takes as long
whether or not a message goes out (no account enumeration).
"""

from parley.core.config import Settings
from parley.core.mail import Mail

# Where the mailed link leads, under PUBLIC_BASE_URL.
LOGIN_SESSIONS_PATH = "/login-sessions"


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
