"""The application factory: lifespan, middleware order, error handlers and routers."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.middleware import Middleware

from parley import __version__
from parley.accounts.router import router as accounts_router
from parley.api.deps import NoApiKey
from parley.api.errors import install_error_handlers
from parley.api.lane import Lane
from parley.api.methods import HeadAsGet, HeadWithoutBody
from parley.api.openapi import install_openapi
from parley.api.resources import Resources
from parley.apikeys.router import router as api_keys_router
from parley.apikeys.service import api_key_holder, remembered_key_owner
from parley.audit.router import router as audit_router
from parley.auth.router import router as auth_router
from parley.catalog.router import lane_routes as catalog_lane
from parley.catalog.router import router as catalog_router
from parley.chats.page_cache import PageCache
from parley.chats.router import build_router as build_chats_router
from parley.chats.router import lane_routes as chats_lane
from parley.console.router import router as console_router
from parley.core.config import Settings, get_settings
from parley.core.cursors import CursorCodec
from parley.core.logging import configure_logging
from parley.core.mail import Mailer, create_mailer
from parley.core.media_storage import LocalMediaStorage
from parley.core.ratelimit import Limiter, create_storage, request_limiter
from parley.core.tokens import TokenCodec
from parley.core.versioned_cache import VersionedCache
from parley.db.engine import create_database
from parley.events import outbox
from parley.events.bell import Doorbell
from parley.events.fanout import Fanout
from parley.events.router import router as events_router
from parley.events.tickets import ticket_store
from parley.idempotency.edge import IdempotentRequests
from parley.idempotency.service import IdempotencyService
from parley.jobs.service import JobQueue
from parley.logins.cache import AccessCache
from parley.media.router import router as media_router
from parley.middleware.stack import middleware_stack
from parley.ops.docs import create_documented_app
from parley.ops.metrics import track_pool, worker_exiting
from parley.ops.router import router as ops_router
from parley.users.bootstrap import ensure_first_admin
from parley.users.router import lane_routes as users_lane
from parley.users.router import router as users_router
from parley.webhooks.dispatch import Dispatcher
from parley.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"
# Set by `parley serve` for its workers: how many processes serve this app.
WORKERS_ENV = "PARLEY_WORKERS"


def build_resources(
    settings: Settings, *, mailer: Mailer | None = None, single_worker: bool | None = None
) -> Resources:
    secret = settings.signing_key()
    login_count, login_window = settings.login_rate
    mailer = mailer or create_mailer(settings)
    media = LocalMediaStorage(settings.media_dir)
    database = create_database(settings.database_url)
    alone = os.environ.get(WORKERS_ENV) == "1" if single_worker is None else single_worker
    doorbell = Doorbell(redis_url=settings.redis_url, single_worker=alone)
    access_cache = AccessCache(redis_url=settings.redis_url, single_worker=alone)
    return Resources(
        settings=settings,
        database=database,
        tokens=TokenCodec(secret, settings.jwt_algorithm, settings.jwt_expires_in),
        cursors=CursorCodec(secret),
        login_failures=Limiter(
            create_storage(settings.redis_url),
            count=login_count,
            window_seconds=login_window,
            namespace="login-failures",
            moving=True,
        ),
        mailer=mailer,
        media=media,
        access_cache=access_cache,
        doorbell=doorbell,
        event_fanout=Fanout(database, doorbell),
        event_tickets=ticket_store(database, settings.redis_url),
        jobs=JobQueue(settings=settings, mailer=mailer, media=media, database=database),
        seller_searches=VersionedCache(),
        message_pages=PageCache(access_cache),
    )


def create_app(
    settings: Settings | None = None,
    *,
    mailer: Mailer | None = None,
    single_worker: bool | None = None,
) -> FastAPI:
    """Build the application; tests pass their own settings and a recording mailer.

    `single_worker` says whether this process serves alone (its access cache then needs no
    Redis to stay coherent); by default `parley serve` tells its workers through the environment.
    """
    settings = settings or get_settings()
    configure_logging(settings)
    resources = build_resources(settings, mailer=mailer, single_worker=single_worker)
    requests_limiter = request_limiter(settings)
    track_pool(resources.database.engine)
    webhook_dispatcher = Dispatcher(resources.database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ensure_first_admin(resources.settings, resources.database, resources.access_cache)
        await resources.access_cache.start()
        await resources.doorbell.start()
        outbox.listen(resources.database.engine, resources.doorbell.ring)
        resources.event_fanout.start()
        await resources.jobs.start()
        webhook_dispatcher.start()
        yield
        await webhook_dispatcher.stop()
        await resources.jobs.stop()
        outbox.unlisten(resources.database.engine, resources.doorbell.ring)
        await resources.event_fanout.stop()
        await resources.doorbell.stop()
        await resources.event_tickets.aclose()
        await resources.access_cache.stop()
        await resources.database.dispose()
        await requests_limiter.aclose()
        await resources.login_failures.aclose()
        worker_exiting()

    # Body size limits are one of the middleware layers (see parley.middleware.stack), so that
    # the 413 is an envelope with every header, like any other error.
    app = create_documented_app(
        title="Parley",
        version=__version__,
        summary="The HTTP API of Parley, a backend for conversational commerce.",
        lifespan=lifespan,
        middleware=middleware_stack(
            settings,
            tokens=resources.tokens,
            request_limiter=requests_limiter,
            key_owner=partial(remembered_key_owner, resources.access_cache),
            idempotency=IdempotentRequests(
                IdempotencyService(resources.database, ttl_seconds=settings.idempotency_ttl),
                resources.tokens,
                key_holder=partial(
                    api_key_holder, database=resources.database, cache=resources.access_cache
                ),
            ),
            # The hot routes' common case, answered past the framework (decision 182).
            lane=Lane(resources, [*users_lane, *chats_lane, *catalog_lane], prefix=API_PREFIX),
        ),
    )
    app.state.resources = resources
    app.state.webhook_dispatcher = webhook_dispatcher
    install_error_handlers(app)
    install_openapi(app)

    app.include_router(ops_router)
    # No API key may manage credentials: every /auth/* route refuses one (decision 166).
    for auth_routes in (auth_router, accounts_router):
        app.include_router(
            auth_routes, prefix=f"{API_PREFIX}/auth", tags=["auth"], dependencies=[NoApiKey]
        )
    app.include_router(api_keys_router, prefix=f"{API_PREFIX}/api-keys", tags=["api keys"])
    app.include_router(audit_router, prefix=API_PREFIX, tags=["audit"])
    app.include_router(users_router, prefix=f"{API_PREFIX}/users", tags=["users"])
    app.include_router(build_chats_router(settings), prefix=API_PREFIX, tags=["chat sessions"])
    app.include_router(media_router, prefix=API_PREFIX, tags=["media"])
    app.include_router(catalog_router, prefix=API_PREFIX, tags=["catalog"])
    app.include_router(events_router, prefix=API_PREFIX, tags=["events"])
    app.include_router(console_router)
    app.include_router(webhooks_router, prefix=API_PREFIX, tags=["webhooks"])
    # HEAD wherever GET: served by the GET route, its body dropped outermost (see api.methods).
    app.user_middleware.append(Middleware(HeadAsGet))
    app.add_middleware(HeadWithoutBody)
    return app


def __getattr__(name: str) -> FastAPI:
    # `parley.main:app` for ASGI servers, built on first access so importing stays cheap.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
