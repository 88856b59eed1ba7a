"""Request ids: the client's own when it is a sane token, else a fresh one; echoed on every
response and bound to the request's logs (see parley.middleware.edge)."""

import re
import uuid

HEADER = b"x-request-id"
_SANE = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")


def request_id(incoming: bytes | None) -> str:
    """The client's id when it is a sane token; anything else is replaced, never echoed."""
    if incoming is not None and _SANE.match(incoming):
        return incoming.decode("ascii")
    return uuid.uuid4().hex
