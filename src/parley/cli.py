"""The `parley` command: serve, migrate, create-admin."""

import asyncio
import os
import signal
from typing import Annotated

import typer
from pydantic import ValidationError

from parley.core.config import Settings, get_settings
from parley.core.errors import ParleyError
from parley.core.logging import configure_logging
from parley.db import migrate as migrations
from parley.ops.multiprocess import prepare_multiprocess_dir

app = typer.Typer(
    help="Parley: an HTTP backend for businesses that sell through chat.",
    no_args_is_help=True,
    add_completion=False,
)

# Exit status when the service refuses to start (configuration or schema not ready).
EXIT_NOT_READY = 3
# Mirrors parley.main.WORKERS_ENV without importing the whole app into the CLI.
WORKERS_ENV = "PARLEY_WORKERS"
# Workers importing the app side by side on a small machine can take well over uvicorn's
# default 5 s to answer their first health check, and would be killed and restarted in a loop.
WORKER_START_TIMEOUT_S = 60


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    graceful_timeout: Annotated[
        int, typer.Option(min=1, help="Seconds in-flight requests get to finish on SIGTERM")
    ] = 30,
) -> None:
    """Migrate a new database, then serve the API."""
    import uvicorn

    settings = _settings()
    configure_logging(settings)
    state = asyncio.run(migrations.schema_state(settings.database_url))
    if state == "new" or (state == "behind" and settings.is_development):
        migrations.upgrade(settings.database_url)
    elif state == "behind":
        typer.echo(
            "The database schema is behind this version: run `parley migrate` first.", err=True
        )
        raise typer.Exit(EXIT_NOT_READY)
    os.environ[WORKERS_ENV] = str(workers)  # inherited by the workers; see AccessCache
    prepare_multiprocess_dir()
    signal.signal(signal.SIGTERM, _exit_zero_after_drain)
    uvicorn.run(
        "parley.main:app",
        host=host or settings.host,
        port=port if port is not None else settings.port,
        workers=workers,
        proxy_headers=False,  # the app decides whom to trust (FORWARDED_ALLOW_IPS)
        server_header=False,
        date_header=True,
        access_log=False,  # the app writes its own access line
        log_config=None,
        timeout_graceful_shutdown=graceful_timeout,
        timeout_worker_healthcheck=WORKER_START_TIMEOUT_S,
    )


def _exit_zero_after_drain(_signum: int, _frame: object) -> None:
    # uvicorn re-raises the SIGTERM that stopped it once in-flight requests have finished;
    # a stop that went as planned is a success (exit status 0), not a death by signal.
    raise SystemExit(0)


def _settings() -> Settings:
    """Read the settings, or explain what is wrong with them and exit."""
    try:
        return get_settings()
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"]).upper() or "configuration"
            typer.echo(f"Invalid configuration: {field}: {problem['msg']}", err=True)
        raise typer.Exit(EXIT_NOT_READY) from None


def _prepare_schema(database_url: str, *, upgrade_outdated: bool) -> None:
    """Migrate a new database; an outdated one only when allowed, else refuse to go on."""
    state = asyncio.run(migrations.schema_state(database_url))
    if state == "new" or (state == "behind" and upgrade_outdated):
        migrations.upgrade(database_url)
    elif state == "behind":
        typer.echo("The database schema is behind this version: run `parley migrate`.", err=True)
        raise typer.Exit(EXIT_NOT_READY)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Upgrade the database schema to the given revision (default: the newest)."""
    settings = _settings()
    configure_logging(settings)
    migrations.upgrade(settings.database_url, revision)
    typer.echo(f"Database migrated to {revision}.")


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The administrator's e-mail")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create an administrator, or promote an existing account with that e-mail."""
    from parley.db.engine import create_database
    from parley.db.uow import UnitOfWork
    from parley.users.service import UserService

    settings = _settings()
    configure_logging(settings)
    _prepare_schema(settings.database_url, upgrade_outdated=settings.is_development)

    async def run() -> str:
        database = create_database(settings.database_url)
        try:
            async with database.sessions() as db:
                service = UserService(UnitOfWork(db), settings=settings)
                user = await service.ensure_admin(email=email, password=password)
                return str(user.id)
        finally:
            await database.dispose()

    try:
        user_id = asyncio.run(run())
    except ParleyError as error:
        detail = "; ".join(f"{d.field}: {d.message}" for d in error.details or [])
        typer.echo(f"{error.message}{': ' + detail if detail else ''}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Administrator {email} ready (id {user_id}).")


if __name__ == "__main__":
    app()
