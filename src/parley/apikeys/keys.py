"""The shape of an API key: `pk_<8-character prefix>_<secret>`, stored only as a hash."""

import hmac
import secrets
from dataclasses import dataclass

from parley.core.tokens import hash_opaque_token

KEY_MARK = "pk_"
PREFIX_LENGTH = 8
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Compared against when no key has the presented prefix, so both refusals cost the same.
_DUMMY_HASH = hash_opaque_token("pk_00000000_" + "0" * 43)


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    key: str
    key_hash: str


def new_key() -> NewKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    key = f"{KEY_MARK}{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(prefix=prefix, key=key, key_hash=hash_opaque_token(key))


def is_api_key(credential: str) -> bool:
    """Recognised by its mark alone, before any JWT decoding is attempted."""
    return credential.startswith(KEY_MARK)


def prefix_of(key: str) -> str | None:
    """The prefix a well-formed key names, else None."""
    end = len(KEY_MARK) + PREFIX_LENGTH
    if len(key) < end + 2 or len(key) > 200 or key[end] != "_":
        return None
    prefix = key[len(KEY_MARK) : end]
    return prefix if all(c in _PREFIX_ALPHABET for c in prefix) else None


def matches(key: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of the key's hash; a missing key compares against a dummy."""
    expected = stored_hash if stored_hash is not None else _DUMMY_HASH
    return hmac.compare_digest(hash_opaque_token(key), expected) and stored_hash is not None
