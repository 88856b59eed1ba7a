"""Operations endpoints outside /api/v1: liveness, readiness and Prometheus metrics."""

from typing import Literal

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
    if down:
        log.warning("not_ready", unavailable=down)
        raise Unavailable(
            f"Not ready: {', '.join(down)} unavailable", retry_after=READY_RETRY_AFTER_S
        )
    return Envelope(
        message="Ready",
        data=Readiness(database="ok", redis="ok" if redis_url else "not_configured"),
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics() -> Response:
    """Expose the service's metrics in the Prometheus text format."""
    # A plain function: FastAPI runs it in a thread, as reading the multiprocess files blocks.
    return Response(render_latest(), media_type=CONTENT_TYPE)
