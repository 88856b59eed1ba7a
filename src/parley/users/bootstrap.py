"""Make the first administrator from FIRST_ADMIN_EMAIL / FIRST_ADMIN_PASSWORD at start-up."""

import structlog

from parley.core.config import Settings
from parley.core.errors import ParleyError
from parley.db.engine import Database
from parley.db.uow import UnitOfWork
from parley.logins.cache import AccessCache
from parley.users.service import UserService

log = structlog.get_logger("parley.users")


async def ensure_first_admin(settings: Settings, database: Database, cache: AccessCache) -> None:
    if not settings.first_admin_email or settings.first_admin_password is None:
        return
    async with database.sessions() as db:
        service = UserService(UnitOfWork(db), settings=settings, cache=cache)
        try:
            await service.ensure_admin(
                email=settings.first_admin_email,
                password=settings.first_admin_password.get_secret_value(),
            )
        except ParleyError as error:
            # Workers start together; another one may have made the admin a moment ago.
            log.warning("first_admin_not_created", reason=error.message)
