"""HTTP routes of media downloads."""

from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from parley.api.deps import CurrentUser
from parley.api.openapi import errors
from parley.media.dependencies import MediaServiceDep
from parley.media.detect import _ACCEPTED

router = APIRouter()

# RFC 5987 attr-char beyond letters and digits: what filename* may carry unescaped.
_ATTR_CHARS = "!#$&+-.^_`|~"
_BINARY = {"type": "string", "format": "binary"}
# What a download can be: the types the upload detector accepts.
MEDIA_TYPES = frozenset(_ACCEPTED)


def content_disposition(filename: str) -> str:
    """An attachment header: an ASCII fallback name plus the exact UTF-8 name (RFC 6266)."""
    fallback = (
        "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in filename).strip()
        or "download"
    )
    return (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe=_ATTR_CHARS)}"
    )


@router.get(
    "/media/{media_id}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file's bytes, with the type detected when it was uploaded",
            "content": {media_type: {"schema": _BINARY} for media_type in sorted(MEDIA_TYPES)},
        },
        **errors(404),
    },
)
async def download_media(
    media_id: UUID, user: CurrentUser, media: MediaServiceDep
) -> StreamingResponse:
    """Download a file sent in a message (the owner or an admin), as an attachment."""
    found, chunks = await media.open_for_download(media_id, viewer=user)
    return StreamingResponse(
        chunks,
        media_type=found.content_type,
        headers={
            "Content-Length": str(found.size),
            "Content-Disposition": content_disposition(found.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
