"""Secrets the service must read back (TOTP secrets) are kept encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key derived with HKDF-SHA256
from ENCRYPTION_KEY, or from JWT_SECRET when ENCRYPTION_KEY is unset; each purpose gets its own
derived key, so a key never serves two uses.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parley.core.config import Settings


class UnreadableSecret(Exception):
    """The ciphertext was not made under this key (tampered, or the key changed)."""


class SecretBox:
    def __init__(self, master_key: str, *, purpose: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"parley", info=purpose.encode()
        ).derive(master_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    @classmethod
    def for_settings(cls, settings: Settings, *, purpose: str) -> "SecretBox":
        key = settings.encryption_key
        return cls(key.get_secret_value() if key else settings.signing_key(), purpose=purpose)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise UnreadableSecret from None
