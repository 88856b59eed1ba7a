"""Media use cases: receive an upload into storage, hand out downloads, clean up files."""

import unicodedata
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import structlog

from parley.core.errors import FieldError
from parley.core.media_storage import MediaStorage
from parley.db.uow import UnitOfWork
from parley.media.detect import SNIFF_BYTES, DetectedType, detect
from parley.media.errors import EmptyFile, FileTooLarge, MediaNotFound, UnsupportedFileType
from parley.media.jobs import remove_files_after_commit
from parley.media.repository import MediaRepository
from parley.models.chat import Media, MessageKind
from parley.models.user import User

MAX_FILENAME_LENGTH = 255

log = structlog.get_logger("parley.media")


class Upload(Protocol):
    """A file arriving in chunks, with the form fields that came with it.

    `filename` and `fields` are complete once `file_chunks()` is exhausted.
    """

    @property
    def filename(self) -> str | None: ...

    @property
    def fields(self) -> Mapping[str, str]: ...

    def file_chunks(self) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    size: int
    content_type: str
    kind: MessageKind
    filename: str


def sanitize_filename(raw: str | None, *, fallback: str) -> str:
    """Keep the last path segment, drop control and format characters, cap at 255 characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    # Cc: control characters (NUL, newlines); Cf: invisible ones such as right-to-left override.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf"}).strip()
    if name in {"", ".", ".."}:
        return fallback
    return name[:MAX_FILENAME_LENGTH]


class MediaService:
    def __init__(self, uow: UnitOfWork, *, storage: MediaStorage, max_bytes: int) -> None:
        self.uow = uow
        self.storage = storage
        self.max_bytes = max_bytes
        self.media = MediaRepository(uow.session)

    async def receive(self, upload: Upload) -> StoredFile:
        """Stream the upload into storage, refusing unknown types (415) and oversize files (413)."""
        detected: list[DetectedType] = []
        key, size = await self.storage.write(self._checked(upload, detected))
        found = detected[0]
        fallback = f"{found.kind.value}.{found.extension}"
        return StoredFile(
            key=key,
            size=size,
            content_type=found.content_type,
            kind=found.kind,
            filename=sanitize_filename(upload.filename, fallback=fallback),
        )

    async def _checked(self, upload: Upload, detected: list[DetectedType]) -> AsyncIterator[bytes]:
        """Pass the bytes through, counting them and sniffing the head before any is stored."""
        head = bytearray()
        size = 0
        async for chunk in upload.file_chunks():
            size += len(chunk)
            if size > self.max_bytes:
                raise FileTooLarge
            if detected:
                yield chunk
                continue
            head += chunk
            if len(head) >= SNIFF_BYTES:
                detected.append(_detect(head))
                yield bytes(head)
        if not detected:
            if not head:
                raise EmptyFile(details=[FieldError("body.file", "must not be empty")])
            detected.append(_detect(head))
            yield bytes(head)

    async def discard(self, stored: StoredFile) -> None:
        """Remove a stored file whose message was never committed."""
        await self.storage.delete(stored.key)

    def delete_after_commit(self, keys: Iterable[str]) -> None:
        """Remove these files through a job written in the transaction deleting their rows."""
        remove_files_after_commit(self.uow, list(keys))

    async def open_for_download(
        self, media_id: UUID, *, viewer: User
    ) -> tuple[Media, AsyncIterator[bytes]]:
        """Return the media the viewer may download (owner or admin) and its opened bytes.

        404 when the row is not theirs or its file has vanished (retrying cannot bring it
        back); 503 when the storage cannot be read (it may be, once an operator acts).
        """
        async with self.uow:
            media = await self.media.get_visible(media_id, viewer)
        if media is None:
            raise MediaNotFound
        try:
            chunks = await self.storage.open(media.storage_key)
        except FileNotFoundError:
            log.error("media_file_missing", media_id=str(media.id))
            raise MediaNotFound from None
        return media, chunks


def _detect(head: bytes | bytearray) -> DetectedType:
    found = detect(bytes(head))
    if found is None:
        raise UnsupportedFileType
    return found
