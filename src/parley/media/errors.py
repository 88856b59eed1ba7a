"""Errors of the media domain."""

from parley.core.errors import (
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)


class MediaNotFound(NotFound):
    message = "Media not found"


class UnsupportedFileType(UnsupportedMediaType):
    message = "Unsupported file type: send JPEG, PNG, WebP, GIF, OGG, MP3, M4A/AAC, MP4 or PDF"


class FileTooLarge(PayloadTooLarge):
    message = "File is larger than the media size limit"


class EmptyFile(ValidationFailed):
    message = "File is empty"
