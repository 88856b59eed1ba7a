"""FastAPI dependency factories of the media domain."""

from typing import Annotated

from fastapi import Depends

from parley.api.deps import DbSession, ResourcesDep
from parley.db.uow import UnitOfWork
from parley.media.service import MediaService


async def get_media_service(db: DbSession, resources: ResourcesDep) -> MediaService:
    return MediaService(
        UnitOfWork(db), storage=resources.media, max_bytes=resources.settings.media_max_bytes
    )


MediaServiceDep = Annotated[MediaService, Depends(get_media_service)]
