"""The `parley` command as an operator runs it, in a fresh working directory."""

import os
import subprocess
import sys
from pathlib import Path

from parley.core.config import Settings
from parley.main import create_app
from tests.conftest import TEST_SECRET, RecordingMailer, make_client
from tests.support.parley_server import SQLITE_PASS_ONLY

PARLEY = [sys.executable, "-m", "parley.cli"]
ADMIN = "root@example.com"
PASSPHRASE = "an admin passphrase"

pytestmark = SQLITE_PASS_ONLY


def _run(
    args: list[str], cwd: Path, *, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "JWT_", "ENVIRONMENT"))
    }
    environment.update({"BCRYPT_ROUNDS": "4", **env})
    return subprocess.run(
        [*PARLEY, *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


async def _logs_in(database: Path, email: str, password: str) -> bool:
    """Whether the API accepts this password: asked over HTTP, as a client would."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="staging",
        jwt_secret=TEST_SECRET,
        bcrypt_rounds=4,
        log_level="CRITICAL",
        database_url=f"sqlite:///{database}",
        media_dir=database.parent / "media",
    )
    application = create_app(settings, mailer=RecordingMailer())
    async with application.router.lifespan_context(application), make_client(application) as http:
        response = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
    return response.status_code == 200


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("serve", "migrate", "create-admin"):
        assert command in result.stdout


def test_help_shows_defaults_as_values_without_type_tags(tmp_path: Path) -> None:
    for command in ("serve", "migrate", "create-admin"):
        result = _run([command, "--help"], tmp_path)
        assert result.returncode == 0
        for tag in ("TEXT", "INTEGER", "<str>", "<int", "<bool>"):
            assert tag not in result.stdout, f"{command} --help shows {tag}"
    serve = _run(["serve", "--help"], tmp_path).stdout
    assert "127.0.0.1" in serve and "8000" in serve


def test_create_admin_reads_the_password_from_standard_input(tmp_path: Path) -> None:
    result = _run(
        ["create-admin", "--email", ADMIN, "--password-stdin", "--create"],
        tmp_path,
        stdin=PASSPHRASE + "\n",
    )

    assert result.returncode == 0, result.stderr
    assert ADMIN in result.stdout
    assert "Creating a new database" in result.stderr
    assert str(tmp_path / "data" / "parley.db") in result.stderr


async def test_create_admin_promotes_an_existing_account_keeping_its_password(
    tmp_path: Path,
) -> None:
    first = _run(
        ["create-admin", "--email", ADMIN, "--password-stdin", "--create"],
        tmp_path,
        stdin=PASSPHRASE,
    )
    assert first.returncode == 0, first.stderr

    again = _run(
        ["create-admin", "--email", ADMIN, "--password-stdin"],
        tmp_path,
        stdin="another admin passphrase",
    )

    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout
    database = tmp_path / "data" / "parley.db"
    assert await _logs_in(database, ADMIN, PASSPHRASE)
    assert not await _logs_in(database, ADMIN, "another admin passphrase")


async def test_create_admin_replaces_the_password_only_when_asked(tmp_path: Path) -> None:
    args = ["create-admin", "--email", ADMIN, "--password-stdin"]
    assert _run([*args, "--create"], tmp_path, stdin=PASSPHRASE).returncode == 0

    reset = _run([*args, "--reset-password"], tmp_path, stdin="another admin passphrase")

    assert reset.returncode == 0, reset.stderr
    assert await _logs_in(tmp_path / "data" / "parley.db", ADMIN, "another admin passphrase")


def test_create_admin_with_a_short_password_says_so_in_one_line(tmp_path: Path) -> None:
    secret = "shorty7"
    result = _run(["create-admin", "--email", ADMIN, "--password", secret, "--create"], tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(_error_lines(result)) == 1
    assert "password" in _error_lines(result)[0]
    assert secret not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_create_admin_refuses_a_common_password(tmp_path: Path) -> None:
    result = _run(
        ["create-admin", "--email", ADMIN, "--password-stdin", "--create"],
        tmp_path,
        stdin="password1",
    )
    assert result.returncode == 1
    assert "common" in result.stderr
    assert "password1" not in result.stderr


def test_create_admin_does_not_create_a_database_by_accident(tmp_path: Path) -> None:
    result = _run(
        ["create-admin", "--email", ADMIN, "--password-stdin"], tmp_path, stdin=PASSPHRASE
    )

    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert str(tmp_path / "data" / "parley.db") in _error_lines(result)[0]
    assert not (tmp_path / "data" / "parley.db").exists()


def test_create_admin_without_a_password_and_no_terminal_says_how(tmp_path: Path) -> None:
    result = _run(["create-admin", "--email", ADMIN, "--create"], tmp_path)

    assert result.returncode == 1
    assert "--password-stdin" in _error_lines(result)[0]


def test_commands_name_their_database_with_the_password_masked(tmp_path: Path) -> None:
    # Nothing listens on port 1: the command names the database, then fails in one line.
    url = "postgresql://parley:hunter2-secret@127.0.0.1:1/parley"
    result = _run(["migrate"], tmp_path, DATABASE_URL=url)

    assert result.returncode == 1
    assert "Database: postgresql://parley:***@127.0.0.1:1/parley" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert len(_error_lines(result)) == 1


def test_production_refuses_to_start_without_a_strong_secret(tmp_path: Path) -> None:
    result = _run(["migrate"], tmp_path, ENVIRONMENT="production", JWT_SECRET="secret")
    assert result.returncode == 3
    assert "JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_upgrades_to_the_newest_schema(tmp_path: Path) -> None:
    result = _run(["migrate"], tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'm.db'}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m.db").exists()
    assert f"Creating a new database at {tmp_path / 'm.db'}" in result.stderr
