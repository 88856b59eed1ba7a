"""Password hashing and the rules a new password must meet."""

import asyncio
import base64
import contextlib
import hashlib
import importlib.util
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

import bcrypt

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
# The ranked list zxcvbn ships; its head is the "few thousand most common passwords".
COMMON_PASSWORDS_CONSIDERED = 10_000
HASHING_NICENESS = 19

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


def _usable_cores() -> int:
    """The CPUs this process may run on (a container's or `taskset`'s share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# One thread per usable core: more cannot hash faster, and would only crowd out the event loop.
_hashing = ThreadPoolExecutor(
    max_workers=_usable_cores(), thread_name_prefix="parley-hash", initializer=_lower_priority
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
    ranked = _zxcvbn_frequency_lists()["passwords"][:COMMON_PASSWORDS_CONSIDERED]
    return frozenset(p for p in ranked if len(p) >= MIN_PASSWORD_LENGTH)


def _zxcvbn_frequency_lists() -> dict[str, list[str]]:
    """zxcvbn's ranked word lists, read from their module alone, on first use.

    Importing it the usual way runs the package's matchers, which keep every list as ranked
    dictionaries for good: ~12 MB in every worker, of which only the 10,000 passwords are used.
    Loaded alone and unregistered, the lists are freed once the set is made.
    """
    package = importlib.util.find_spec("zxcvbn")
    locations = package.submodule_search_locations if package else None
    if not locations:
        raise ModuleNotFoundError("zxcvbn")
    spec = importlib.util.spec_from_file_location(
        "zxcvbn_frequency_lists", os.path.join(locations[0], "frequency_lists.py")
    )
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError("zxcvbn.frequency_lists")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lists: dict[str, list[str]] = module.FREQUENCY_LISTS
    return lists


def is_common_password(password: str) -> bool:
    """Tell whether the password is among the most common ones, ignoring case."""
    return password.casefold() in _common_passwords()


_dummy_hashes: dict[int, str] = {}


async def dummy_hash(rounds: int) -> str:
    """A hash to verify against when the account does not exist, so timing reveals nothing."""
    if rounds not in _dummy_hashes:
        _dummy_hashes[rounds] = await hash_password("parley-timing-equaliser", rounds)
    return _dummy_hashes[rounds]
