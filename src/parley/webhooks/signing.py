"""Standard Webhooks signatures (https://www.standardwebhooks.com), by its reference library."""

from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook as Signer


def signature_header(secrets: Sequence[str], *, message_id: str, at: datetime, body: str) -> str:
    """Return `webhook-signature`: `v1,<signature>` per secret, space-separated."""
    return " ".join(
        Signer(secret).sign(msg_id=message_id, timestamp=at, data=body) for secret in secrets
    )


def signed_headers(
    secrets: Sequence[str], *, message_id: str, at: datetime, body: str
) -> dict[str, str]:
    """Return the headers of one signed delivery attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(secrets, message_id=message_id, at=at, body=body),
        "content-type": "application/json",
    }
