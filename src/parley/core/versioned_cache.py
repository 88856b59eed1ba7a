"""Answers kept in a worker's memory with the version of the data they were read at.

An entry answers only while its version is still the current one, which the caller reads
from the database first (db/versions.py): a write committed anywhere, by any worker, changes
the version, so no entry outlives the data it was made from, and no message between workers
is needed. The least recently used entries go first past the bounds.
"""

from collections.abc import Hashable

MAX_ENTRIES = 1024
MAX_BYTES = 8 * 1024 * 1024
MAX_ENTRY_BYTES = 256 * 1024


class VersionedCache:
    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
    ) -> None:
        self._entries: dict[Hashable, tuple[Hashable, bytes]] = {}  # in order of last use
        self._bytes = 0
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._max_entry_bytes = max_entry_bytes

    def get(self, key: Hashable, version: Hashable) -> bytes | None:
        """The answer kept for `key` if it was read at `version`."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        if entry[0] != version:
            self._bytes -= len(entry[1])
            return None
        self._entries[key] = entry  # the most recently used again
        return entry[1]

    def put(self, key: Hashable, version: Hashable, value: bytes) -> None:
        """Keep `value`, read at `version` (read before the data it was made from)."""
        if len(value) > self._max_entry_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
        self._entries[key] = (version, value)
        self._bytes += len(value)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            oldest = next(iter(self._entries))
            self._bytes -= len(self._entries.pop(oldest)[1])
