"""Response bodies of the media domain."""

from uuid import UUID

from pydantic import computed_field

from parley.core.schemas import ReadModel

# Where GET /media/{id} is mounted; the download URL clients follow.
MEDIA_PATH = "/api/v1/media"


class MediaRead(ReadModel):
    id: UUID
    content_type: str
    size: int
    filename: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        return f"{MEDIA_PATH}/{self.id}"
