"""What a worker imports stays what it uses: the queue library and the drivers of databases it
does not run on weigh ~13 MB of resident memory a process, the migration tooling ~10 MB,
zxcvbn's matchers ~12 MB (docs/performance.md)."""

import subprocess
import sys

HEAVY_UNTIL_USED = ("taskiq", "aiohttp", "asyncpg", "asyncmy", "zxcvbn")


def loaded_by(module: str, candidates: tuple[str, ...]) -> list[str]:
    probe = f"import sys, {module}; print(' '.join(m for m in {candidates!r} if m in sys.modules))"
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()


def test_the_application_imports_no_queue_library_and_no_other_database_driver() -> None:
    assert loaded_by("parley.main", HEAVY_UNTIL_USED) == []


def test_the_command_line_leaves_the_migration_tooling_to_the_process_that_migrates() -> None:
    # `parley serve` and `parley worker` check the schema in a short-lived process of their own.
    assert loaded_by("parley.cli", ("alembic",)) == []


def test_checking_a_password_leaves_zxcvbn_unimported() -> None:
    # Only its password list is read, from its file alone, and dropped once the set is made.
    probe = (
        "import sys; from parley.core.passwords import is_common_password as common; "
        "print(common('password123'), common('quiet-harbour-lantern-1874'), "
        "[m for m in sys.modules if m.startswith('zxcvbn')])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.split() == ["True", "False", "[]"]
