"""FastAPI dependency factories of the chats domain: its service, and the lean use cases."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from parley.api.deps import DbSession, ResourcesDep
from parley.api.resources import Resources
from parley.chats.hot_paths import ChatHotPaths
from parley.chats.service import ChatService
from parley.db.uow import UnitOfWork
from parley.media.service import MediaService


def chat_service(db: AsyncSession, resources: Resources) -> ChatService:
    uow = UnitOfWork(db)
    media = MediaService(uow, storage=resources.media, max_bytes=resources.settings.media_max_bytes)
    return ChatService(uow, cursors=resources.cursors, media=media, pages=resources.message_pages)


async def get_chat_service(db: DbSession, resources: ResourcesDep) -> ChatService:
    return chat_service(db, resources)


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]


def resources_of(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def hot_paths(request: Request) -> ChatHotPaths:
    """The lean use cases, called from their routes: those resolve only the caller and the
    parameters (no session or service dependencies: each costs a resolution on every
    request)."""
    return chat_hot_paths(resources_of(request))


def chat_hot_paths(resources: Resources) -> ChatHotPaths:
    return ChatHotPaths(resources.database, resources.cursors, resources.message_pages)


@asynccontextmanager
async def opened_chat_service(resources: Resources) -> AsyncIterator[ChatService]:
    """The service on a session of its own, for a route that decides late whether it needs
    one (the message route: a text post takes the lean path, an upload this one)."""
    async with resources.database.sessions() as db:
        yield chat_service(db, resources)
