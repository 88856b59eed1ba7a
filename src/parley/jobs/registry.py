"""The jobs a process knows: `@job` names a handler, `@periodic` also schedules it."""

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from parley.core.config import Settings
from parley.core.mail import Mailer
from parley.core.media_storage import MediaStorage
from parley.db.engine import Database

# Every module that registers jobs; a domain adding jobs adds its module here, once.
JOB_MODULES = (
    "parley.jobs.mail",
    "parley.jobs.purge",
    "parley.auth.jobs",
    "parley.media.jobs",
    "parley.idempotency.jobs",
    "parley.webhooks.jobs",
    "parley.events.jobs",
    "parley.audit.jobs",
    "parley.accounts.jobs",
)

Payload = dict[str, Any]
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a running job may use, in `parley serve` and `parley worker` alike."""

    settings: Settings
    database: Database
    mailer: Mailer
    media: MediaStorage
    job_id: str
    attempt: int


Handler = Callable[[JobContext, Payload], Awaitable[None]]


class RetryJob(Exception):
    """Raised by a handler to run the job again after `after` (counts as an attempt)."""

    def __init__(self, after: timedelta, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.after = after


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int
    backoff: timedelta

    def delay_after(self, attempt: int) -> timedelta:
        """Exponential backoff: backoff, 2x, 4x … after attempts 1, 2, 3 …, at most an hour."""
        delay: timedelta = self.backoff * 2 ** max(attempt - 1, 0)
        return min(delay, MAX_BACKOFF)


@dataclass(frozen=True, slots=True)
class PeriodicSpec:
    job: JobSpec
    # Seconds between runs, read from the settings when the schedule is kept.
    every: Callable[[Settings], int]


_jobs: dict[str, JobSpec] = {}
_periodic: dict[str, PeriodicSpec] = {}


def job(
    name: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff: timedelta = DEFAULT_BACKOFF,
) -> Callable[[Handler], JobSpec]:
    """Register `async def handler(ctx, payload)` as the job `name`; enqueue the returned spec.

    A job may run more than once (at-least-once delivery): write it so a second run does no harm.
    """

    def register(handler: Handler) -> JobSpec:
        if name in _jobs and _jobs[name].handler is not handler:
            raise ValueError(f"two jobs are named {name!r}")
        spec = JobSpec(name, handler, max_attempts, backoff)
        _jobs[name] = spec
        return spec

    return register


def periodic(
    name: str, *, every: Callable[[Settings], int], max_attempts: int = 3
) -> Callable[[Handler], JobSpec]:
    """Register a job that runs every `every(settings)` seconds, once across all processes."""

    def register(handler: Handler) -> JobSpec:
        spec = job(name, max_attempts=max_attempts)(handler)
        _periodic[name] = PeriodicSpec(spec, every)
        return spec

    return register


def every_purge_interval(settings: Settings) -> int:
    """The schedule of purges: PURGE_INTERVAL (default hourly)."""
    return settings.purge_interval


def load_jobs() -> None:
    """Import every module that registers jobs (idempotent)."""
    for module in JOB_MODULES:
        importlib.import_module(module)


def get_job(name: str) -> JobSpec | None:
    return _jobs.get(name)


def periodic_jobs() -> list[PeriodicSpec]:
    return list(_periodic.values())
