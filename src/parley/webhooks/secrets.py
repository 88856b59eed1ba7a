"""Webhook signing secrets: made, and kept encrypted at rest (AES-256-GCM).

The key is derived with HKDF-SHA256 from ENCRYPTION_KEY, or from JWT_SECRET when it is unset
(decision 151). Each ciphertext is bound to its webhook's id, so a secret copied onto another
row does not decrypt.
"""

import base64
import secrets
from functools import cache
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parley.core.config import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
SECRET_BYTES = 32
_FORMAT = "v1"
_NONCE_BYTES = 12
_INFO = b"parley webhook signing secrets"


class SecretUnreadable(Exception):
    """A stored secret does not decrypt with the configured key."""


def new_secret() -> str:
    """Return a new signing secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretBox:
    def __init__(self, key_material: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            key_material.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, secret: str, *, webhook_id: UUID) -> str:
        """Encrypt a secret for storage in its webhook's row."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), webhook_id.bytes)
        return f"{_FORMAT}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, *, webhook_id: UUID) -> str:
        """Decrypt a stored secret, or raise SecretUnreadable."""
        version, _, body = stored.partition(".")
        try:
            if version != _FORMAT:
                raise ValueError(version)
            raw = base64.urlsafe_b64decode(body)
            opened = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], webhook_id.bytes)
        except (ValueError, InvalidTag) as exc:
            raise SecretUnreadable from exc
        return opened.decode()


@cache
def _box(key_material: str) -> SecretBox:
    return SecretBox(key_material)


def secret_box_for(settings: Settings) -> SecretBox:
    """The box that seals webhook secrets: keyed by ENCRYPTION_KEY, else by JWT_SECRET."""
    key = settings.encryption_key
    if key is not None and key.get_secret_value():
        return _box(key.get_secret_value())
    return _box(settings.signing_key())
