"""Operations endpoints outside /api/v1: liveness, readiness and Prometheus metrics."""

import asyncio
from typing import Literal

import anyio.to_thread
import structlog
from fastapi import APIRouter, Response
from pydantic import BaseModel

from parley.api.deps import ResourcesDep
from parley.api.openapi import errors
from parley.core.errors import Unavailable
from parley.core.schemas import Envelope
from parley.ops import health
from parley.ops.metrics import CONTENT_TYPE, render_latest

log = structlog.get_logger("parley.health")

router = APIRouter(tags=["operations"])

READY_RETRY_AFTER_S = 5


class Liveness(BaseModel):
    alive: bool


class Readiness(BaseModel):
    database: Literal["ok"]
    redis: Literal["ok", "not_configured"]
    # "embedded": jobs run inside `parley serve`, in the database; "ok": QUEUE_URL answers.
    queue: Literal["ok", "embedded"]


@router.get("/health/live")
async def live() -> Envelope[Liveness]:
    """Answer 200 while the process serves requests."""
    return Envelope(message="Alive", data=Liveness(alive=True))


@router.get("/health/ready", responses=errors(503))
async def ready(resources: ResourcesDep) -> Envelope[Readiness]:
    """Answer 200 when the database (and Redis, when configured) answer; 503 otherwise."""
    down: list[str] = []
    if not await health.database_ready(resources.database):
        down.append("database")
    redis_url = resources.settings.redis_url
    if redis_url and not await health.redis_ready(redis_url):
        down.append("redis")
    if not await resources.jobs.ready():
        down.append("queue")
    if down:
        log.warning("not_ready", unavailable=down)
        raise Unavailable(
            f"Not ready: {', '.join(down)} unavailable", retry_after=READY_RETRY_AFTER_S
        )
    return Envelope(
        message="Ready",
        data=Readiness(
            database="ok",
            redis="ok" if redis_url else "not_configured",
            queue="embedded" if resources.jobs.embedded else "ok",
        ),
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(resources: ResourcesDep) -> Response:
    """Expose the service's metrics in the Prometheus text format."""
    try:
        async with asyncio.timeout(health.CHECK_TIMEOUT_S):
            await resources.jobs.depth()  # the queue depth, read now
    except Exception:  # the other metrics still answer while the database does not
        log.warning("queue_depth_unavailable")
    # Reading the multiprocess files blocks: in a thread.
    body = await anyio.to_thread.run_sync(render_latest)
    return Response(body, media_type=CONTENT_TYPE)
