"""Password hashing and the rules a new password must meet."""

import asyncio
import base64
import contextlib
import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

import bcrypt
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
# The ranked list zxcvbn ships; its head is the "few thousand most common passwords".
COMMON_PASSWORDS_CONSIDERED = 10_000
HASHING_NICENESS = 10

T = TypeVar("T")


def _prehash(password: str) -> bytes:
    """Digest the password first so every character counts past bcrypt's 72-byte input.

    Base64 keeps the digest free of NUL bytes, which bcrypt would stop at.
    """
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


def hash_password_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode()


def verify_password_sync(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode())
    except ValueError:
        return False


def _lower_priority() -> None:
    # Linux schedules threads individually: a nicer hashing thread yields the CPU to the
    # event loop, so a burst of logins does not slow every other request down.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


# One thread per core: more cannot hash faster, and would only crowd out the event loop.
_hashing = ThreadPoolExecutor(
    max_workers=os.cpu_count() or 1, thread_name_prefix="parley-hash", initializer=_lower_priority
)


async def _in_hashing_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, function, *args)


async def hash_password(password: str, rounds: int) -> str:
    """Hash in a worker thread: bcrypt is slow on purpose and must not stall the event loop."""
    return await _in_hashing_thread(hash_password_sync, password, rounds)


async def verify_password(password: str, password_hash: str) -> bool:
    """Check a password in a worker thread."""
    return await _in_hashing_thread(verify_password_sync, password, password_hash)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    ranked = FREQUENCY_LISTS["passwords"][:COMMON_PASSWORDS_CONSIDERED]
    return frozenset(p for p in ranked if len(p) >= MIN_PASSWORD_LENGTH)


def is_common_password(password: str) -> bool:
    """Tell whether the password is among the most common ones, ignoring case."""
    return password.casefold() in _common_passwords()


_dummy_hashes: dict[int, str] = {}


async def dummy_hash(rounds: int) -> str:
    """A hash to verify against when the account does not exist, so timing reveals nothing."""
    if rounds not in _dummy_hashes:
        _dummy_hashes[rounds] = await hash_password("parley-timing-equaliser", rounds)
    return _dummy_hashes[rounds]
