"""Request ids: the client's own when it is a sane token, else a fresh one; echoed on every
response and bound to the request's logs (see parley.middleware.edge)."""

import random
import re
import uuid

HEADER = b"x-request-id"
_SANE = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")


def request_id(incoming: bytes | None) -> str:
    """The client's id when it is a sane token; anything else is replaced, never echoed."""
    if incoming is not None and _SANE.match(incoming):
        return incoming.decode("ascii")
    # A correlation id, not a secret: the process's own generator, not the kernel's. Reading
    # os.urandom lets go of the GIL, and on SQLite getting it back meant waiting for the
    # database threads (a seventh of a message page's time, decision 187).
    return uuid.UUID(int=random.getrandbits(128), version=4).hex
