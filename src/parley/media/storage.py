"""Where media bytes live: a small interface, with local disk as the first implementation."""

import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread

CHUNK_SIZE = 64 * 1024
_KEY = re.compile(r"[0-9a-f]{32}")


class MediaStorage(Protocol):
    async def write(self, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
        """Store the bytes atomically; return (storage key, size)."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """Yield the stored bytes in chunks."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the stored bytes; a missing key is not an error."""
        ...

    async def exists(self, key: str) -> bool:
        """Tell whether bytes are stored under the key."""
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
        await anyio.to_thread.run_sync(lambda: final.parent.mkdir(parents=True, exist_ok=True))
        draft = final.with_name(f".{key}.part")
        size = 0
        try:
            async with await anyio.open_file(draft, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    await out.write(chunk)
                await out.flush()
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
            await anyio.to_thread.run_sync(os.replace, draft, final)
        except BaseException:
            await anyio.to_thread.run_sync(lambda: draft.unlink(missing_ok=True))
            raise
        return key, size

    async def read(self, key: str) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self._path(key), "rb") as source:
            while chunk := await source.read(CHUNK_SIZE):
                yield chunk

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self._path(key)).is_file()
