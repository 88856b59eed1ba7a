"""Decide what a file is from its first bytes, never from its name or the client's header."""

from dataclasses import dataclass

import filetype

from parley.models.chat import MessageKind

# filetype reads at most this many bytes; feeding it more changes nothing.
SNIFF_BYTES = 8192

# The contract's list, by the MIME type filetype reports for each format.
_ACCEPTED: dict[str, MessageKind] = {
    "image/jpeg": MessageKind.IMAGE,
    "image/png": MessageKind.IMAGE,
    "image/webp": MessageKind.IMAGE,
    "image/gif": MessageKind.IMAGE,
    "audio/ogg": MessageKind.AUDIO,
    "audio/mpeg": MessageKind.AUDIO,
    "audio/mp4": MessageKind.AUDIO,
    "audio/aac": MessageKind.AUDIO,
    "video/mp4": MessageKind.VIDEO,
    "application/pdf": MessageKind.DOCUMENT,
}


@dataclass(frozen=True, slots=True)
class DetectedType:
    content_type: str
    kind: MessageKind
    extension: str


def detect(head: bytes) -> DetectedType | None:
    """Return the accepted type the leading bytes reveal, or None for anything else."""
    guess = filetype.guess(head[:SNIFF_BYTES])
    if guess is None:
        return None
    kind = _ACCEPTED.get(guess.mime)
    if kind is None:
        return None
    return DetectedType(content_type=guess.mime, kind=kind, extension=guess.extension)
