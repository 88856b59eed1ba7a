"""The `parley` command as an operator runs it, in a fresh working directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PARLEY = [sys.executable, "-m", "parley.cli"]

# These start processes on SQLite files of their own; once per CI run is enough.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("PARLEY_TEST_DATABASE_URL")), reason="runs in the SQLite pass only"
)


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "JWT_", "ENVIRONMENT"))
    }
    environment.update(env)
    return subprocess.run(
        [*PARLEY, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("serve", "migrate", "create-admin"):
        assert command in result.stdout


def test_create_admin_on_a_new_database_migrates_it_first(tmp_path: Path) -> None:
    result = _run(
        ["create-admin", "--email", "root@example.com", "--password", "an admin passphrase"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "root@example.com" in result.stdout
    assert (tmp_path / "data" / "parley.db").exists()
    again = _run(
        ["create-admin", "--email", "root@example.com", "--password", "another admin passphrase"],
        tmp_path,
    )
    assert again.returncode == 0, again.stderr


def test_create_admin_refuses_a_common_password(tmp_path: Path) -> None:
    result = _run(
        ["create-admin", "--email", "root@example.com", "--password", "password1"], tmp_path
    )
    assert result.returncode == 1
    assert "common" in result.stderr


def test_production_refuses_to_start_without_a_strong_secret(tmp_path: Path) -> None:
    result = _run(["migrate"], tmp_path, ENVIRONMENT="production", JWT_SECRET="secret")
    assert result.returncode == 3
    assert "JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_upgrades_to_the_newest_schema(tmp_path: Path) -> None:
    result = _run(["migrate"], tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'm.db'}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m.db").exists()
