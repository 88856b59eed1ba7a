"""Prometheus multiprocess mode: the directory where every worker keeps its metric values.

Kept apart from parley.ops.metrics on purpose: the `serve` command must empty the directory
before any metric exists in its own process, or a single-worker server (which runs in that same
process) would write its values into files that were just deleted.
"""

import os
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def prepare_multiprocess_dir() -> None:
    """Empty the multiprocess directory before workers start: old files hold dead workers."""
    directory = multiprocess_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
