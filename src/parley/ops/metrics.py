"""The service's Prometheus metrics. Importable from any layer: it needs no web framework.

With PROMETHEUS_MULTIPROC_DIR set (before the process starts), prometheus-client keeps each
worker's values in files in that directory and /metrics sums them, so any worker can answer a
scrape for all of them; otherwise every process counts on its own.
"""

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.ops.multiprocess import multiprocess_dir

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "parley_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_LATENCY = Histogram(
    "parley_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL_IN_USE = Gauge(
    "parley_db_pool_connections_in_use",
    "Database connections checked out of the pool right now.",
    multiprocess_mode="livesum",
)
LOGIN_ATTEMPTS = Counter(
    "parley_login_attempts_total",
    "Login attempts by outcome: success, invalid_credentials, account_disabled, rate_limited.",
    ["outcome"],
)
RATE_LIMITED = Counter(
    "parley_rate_limited_total",
    "Requests refused with 429, by limiter (request, login).",
    ["limiter"],
)
JOBS = Counter(
    "parley_jobs_total",
    "Jobs run, by job name and outcome: succeeded, retried (will run again), failed (gave up).",
    ["job", "outcome"],
)
JOB_QUEUE_DEPTH = Gauge(
    "parley_job_queue_depth",
    "Jobs in the outbox by state (queued, sent, running, failed), read at each scrape.",
    ["state"],
    multiprocess_mode="mostrecent",
)


def render_latest() -> bytes:
    """Return every metric in the Prometheus text format, summed over workers if configured."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def track_pool(engine: AsyncEngine) -> None:
    """Keep DB_POOL_IN_USE up to date from the pool's own check-out and check-in events."""

    def checked_out(*_args: Any) -> None:
        DB_POOL_IN_USE.inc()

    def checked_in(*_args: Any) -> None:
        DB_POOL_IN_USE.dec()

    event.listen(engine.sync_engine.pool, "checkout", checked_out)
    event.listen(engine.sync_engine.pool, "checkin", checked_in)


def worker_exiting() -> None:
    """Drop this worker's live gauges from the multiprocess totals."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
