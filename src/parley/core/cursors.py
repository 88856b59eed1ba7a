"""Opaque, signed keyset cursors: clients cannot forge or tamper with a page position, nor
carry one from a list to another.

Each cursor is signed together with the name of the list it belongs to (its scope: which list,
whose, which order, which ranking). The scope is not in the cursor, so it stays short and
opaque; a cursor presented to any other list fails its signature and is a 400.
"""

import base64
import hashlib
import hmac
import json
from typing import Any
from uuid import UUID

from parley.core.errors import BadRequest

_SIGNATURE_BYTES = 16
_ID_POSITION = frozenset({"id"})


class InvalidCursor(BadRequest):
    message = "Invalid cursor"


def list_scope(name: str, *keys: object) -> str:
    """Name one list, e.g. `list_scope("messages", session_id, "asc")`; None keys are ""."""
    return json.dumps([name, *("" if key is None else str(key) for key in keys)])


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"parley-cursor", hashlib.sha256).digest()

    def encode(self, position: dict[str, Any], *, scope: str) -> str:
        payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._sign(scope, payload))}"

    def decode(self, cursor: str, *, scope: str, expect: frozenset[str]) -> dict[str, Any]:
        """Return the position a cursor of this list holds, or raise InvalidCursor (400)."""
        try:
            payload_part, signature_part = cursor.split(".")
            payload = _unb64(payload_part)
            if not hmac.compare_digest(_unb64(signature_part), self._sign(scope, payload)):
                raise InvalidCursor
            position = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidCursor from exc
        if not isinstance(position, dict) or set(position) != expect:
            raise InvalidCursor
        return position

    def encode_id(self, id_: UUID, *, scope: str) -> str:
        """Return the cursor of a page that continues after the row with this id."""
        return self.encode({"id": str(id_)}, scope=scope)

    def decode_id(self, cursor: str | None, *, scope: str) -> UUID | None:
        """Return the id an id-keyset cursor continues after (None: the first page)."""
        if cursor is None:
            return None
        return cursor_uuid(self.decode(cursor, scope=scope, expect=_ID_POSITION)["id"])

    def _sign(self, scope: str, payload: bytes) -> bytes:
        # Length-prefixed, so no scope and payload pair can pass for another.
        message = f"{len(scope)}:{scope}".encode() + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if len(text) > 4096:
        raise ValueError("cursor too long")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cursor_uuid(value: object) -> UUID:
    """Read a UUID out of a decoded cursor position, or raise InvalidCursor."""
    if not isinstance(value, str):
        raise InvalidCursor
    try:
        return UUID(value)
    except ValueError:
        raise InvalidCursor from None
