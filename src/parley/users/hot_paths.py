"""`GET /users/me` on the lean path: the caller's account as the response bytes.

The current-user dependency already holds the whole row the response shows (from the access
cache, or from the one look-up that authenticated the request), and every change of it (profile,
role, state, password, deletion) drops the cached entry after commit, so no statement is needed:
the bytes are written from that object as `UserRead` inside the envelope renders them.
"""

from parley.db.fast import envelope, utc_json_time
from parley.models.user import User


def me_response(user: User) -> bytes:
    """The envelope of `read_me`, byte for byte as Envelope[UserRead] renders it."""
    return envelope(
        "Current user",
        {
            "id": str(user.id),
            "email": user.email,
            "username": user.username,
            "phone_number": user.phone_number,
            "role": user.role,
            "is_active": user.is_active,
            "email_verified": user.email_verified,
            "mfa_enabled": user.mfa_enabled,
            "created_at": utc_json_time(user.created_at),
            "updated_at": utc_json_time(user.updated_at),
        },
    )
