"""FastAPI dependency factories of the webhooks domain: the service, built per request."""

from typing import Annotated

from fastapi import Depends

from parley.api.deps import DbSession, ResourcesDep
from parley.db.uow import UnitOfWork
from parley.webhooks.secrets import secret_box_for
from parley.webhooks.service import WebhookService


async def webhook_service(db: DbSession, resources: ResourcesDep) -> WebhookService:
    settings = resources.settings
    return WebhookService(UnitOfWork(db), settings=settings, secrets=secret_box_for(settings))


WebhookServiceDep = Annotated[WebhookService, Depends(webhook_service)]
