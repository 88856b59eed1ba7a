"""What a worker imports stays what it uses: the queue library and the drivers of databases it
does not run on weigh ~13 MB of resident memory a process (docs/performance.md)."""

import subprocess
import sys

HEAVY_UNTIL_USED = ("taskiq", "aiohttp", "asyncpg", "asyncmy")


def test_the_application_imports_no_queue_library_and_no_other_database_driver() -> None:
    probe = (
        "import sys, parley.main; "
        f"print(' '.join(m for m in {HEAVY_UNTIL_USED!r} if m in sys.modules))"
    )

    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()

    assert loaded == []
