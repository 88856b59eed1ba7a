"""Where media bytes live: a small interface, with local disk as the first implementation.

In the core, like the mailer: the media domain stores through it, and background jobs carry
it (a job removes the files of deleted media) without importing the media domain."""

import contextlib
import errno
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread
import structlog
from anyio import AsyncFile

from parley.core.errors import Unavailable

CHUNK_SIZE = 64 * 1024
# A full disk or a read-only mount lasts until an operator acts: ask clients to come back later.
STORAGE_RETRY_AFTER_S = 30
_KEY = re.compile(r"[0-9a-f]{32}")
# Faults of the disk, not of the request: full, over quota, read-only, not ours to write, failing.
_DISK_FAULTS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
)

log = structlog.get_logger("parley.media")


class MediaStorageUnavailable(Unavailable):
    message = "Media storage is unavailable; try again later"


class MediaStorage(Protocol):
    async def write(self, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
        """Store the bytes atomically; return (storage key, size).

        Raises MediaStorageUnavailable when the storage cannot take them; nothing is kept then.
        """
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """Open the stored bytes and return them as chunks.

        Raises FileNotFoundError when nothing is stored under the key, MediaStorageUnavailable
        when the storage cannot be read.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove the stored bytes; a missing key is not an error, a failure only a warning."""
        ...


class LocalMediaStorage:
    """Files under a directory, written to a temporary name and renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        # Keys are ours (random hex), so anything else is a bug, never a path to follow.
        if not _KEY.fullmatch(key):
            raise ValueError("invalid storage key")
        return self.root / key[:2] / key

    async def write(self, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
        key = secrets.token_hex(16)
        final = self._path(key)
        # The draft sits in the root, so a failed upload leaves no directory of its own behind.
        draft = self.root / f".{key}.part"
        size = 0
        try:
            try:
                await anyio.to_thread.run_sync(self._make_root)
                async with await anyio.open_file(draft, "wb") as out:
                    async for chunk in chunks:
                        size += len(chunk)
                        await out.write(chunk)
                    await out.flush()
                    await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
                await anyio.to_thread.run_sync(_place, draft, final)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_remove_quietly, draft)
                raise
        except OSError as exc:
            raise self._fault(exc, "write") from None
        return key, size

    async def open(self, key: str) -> AsyncIterator[bytes]:
        try:
            source = await anyio.open_file(self._path(key), "rb")
        except OSError as exc:
            raise self._fault(exc, "read") from None  # a missing file stays FileNotFoundError
        return _chunks(source)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))
        except OSError as exc:
            if exc.errno not in _DISK_FAULTS:
                raise
            # The row is gone already; the orphaned file costs space, not correctness.
            log.warning("media_file_not_removed", key=key, reason=errno.errorcode[exc.errno])

    def _make_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def _fault(self, exc: OSError, operation: str) -> OSError | MediaStorageUnavailable:
        """Turn a disk fault into a 503 logged once, without a traceback; pass anything else on."""
        if exc.errno not in _DISK_FAULTS:
            return exc
        log.warning(
            "media_storage_unavailable",
            operation=operation,
            reason=errno.errorcode[exc.errno],
            media_dir=str(self.root),
        )
        return MediaStorageUnavailable(retry_after=STORAGE_RETRY_AFTER_S)


def _place(draft: Path, final: Path) -> None:
    """Move a complete draft into its shard directory, made only now that the bytes are safe."""
    final.parent.mkdir(exist_ok=True)
    os.replace(draft, final)


def _remove_quietly(path: Path) -> None:
    # On a read-only disk even removing a file that was never created fails; nothing is left then.
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


async def _chunks(source: AsyncFile[bytes]) -> AsyncIterator[bytes]:
    async with source:
        while chunk := await source.read(CHUNK_SIZE):
            yield chunk
