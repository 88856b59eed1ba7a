"""The `parley` command: serve, worker, migrate, create-admin.

Every command first says which database it works on, and says so loudly when it is about to
create one. Errors are one line on standard error, with no traceback and no secret."""

import asyncio
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from parley.core.config import Settings, get_settings
from parley.core.errors import ParleyError
from parley.core.logging import configure_logging
from parley.ops.multiprocess import prepare_multiprocess_dir

app = typer.Typer(
    help="Parley: an HTTP backend for businesses that sell through chat.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: no type tags, defaults as plain values
    # Rich tracebacks print every local variable, passwords included.
    pretty_exceptions_enable=False,
)

# Exit status when the service refuses to start (configuration or schema not ready).
EXIT_NOT_READY = 3
# Mirrors parley.main.WORKERS_ENV without importing the whole app into the CLI.
WORKERS_ENV = "PARLEY_WORKERS"


def _option(
    help_text: str,
    show_default: bool = True,
    *,
    flag: str | None = None,
    min: int | None = None,
) -> Any:
    """An option whose help shows no type tag. `flag` names an on/off option with no `--no-`
    twin."""
    names = (flag,) if flag else ()
    return typer.Option(*names, help=help_text, metavar="", show_default=show_default, min=min)


def _from_env(help_text: str, setting: str) -> str:
    """Help for an option whose default is a setting: the value, and what overrides it."""
    default = Settings.model_fields[setting].default
    return f"{help_text}  [default: {default}, or {setting.upper()} when set]"


class CommandFailed(Exception):
    """A one-line explanation for the operator; exit status 1 unless given."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn what can go wrong into one line on standard error: never a traceback, and never
    a submitted value (pydantic's `input`), so a password is not echoed."""
    try:
        yield
    except CommandFailed as error:
        _fail(str(error), error.status)
    except ParleyError as error:
        details = "; ".join(f"{d.field}: {d.message}" for d in error.details or [])
        _fail(f"{error.message}{': ' + details if details else ''}")
    except ValidationError as error:
        _fail("; ".join(_problem(problem) for problem in error.errors()))
    except SQLAlchemyError as error:
        first_line = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        _fail(f"Database error: {type(error).__name__}: {first_line}")
    except OSError as error:  # a driver that could not connect at all
        _fail(f"Cannot reach the database: {type(error).__name__}: {error.strerror or error}")


def _problem(problem: object) -> str:
    assert isinstance(problem, dict)
    field = ".".join(str(part) for part in problem["loc"]) or "value"
    return f"{field}: {problem['msg']}"


def _fail(message: str, status: int = 1) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(status)


def _settings() -> Settings:
    """Read the settings, or explain what is wrong with them and exit."""
    try:
        return get_settings()
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"]).upper() or "configuration"
            typer.echo(f"Invalid configuration: {field}: {problem['msg']}", err=True)
        raise typer.Exit(EXIT_NOT_READY) from None


def _announce_database(database_url: str) -> bool:
    """Say which database this command uses (password masked); return whether it is an
    SQLite file that does not exist yet."""
    url = make_url(database_url)
    shown = url.render_as_string(hide_password=True)
    path = Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
    if path is not None and str(path) != ":memory:":
        typer.echo(f"Database: {shown} ({path.resolve()})", err=True)
        return not path.exists()
    typer.echo(f"Database: {shown}", err=True)
    return False


def _schema_state(database_url: str, *, missing_file: bool) -> str:
    from parley.db import migrate as migrations

    return "new" if missing_file else asyncio.run(migrations.schema_state(database_url))


def _apart(step: Callable[[], None]) -> None:
    """Run `step` in a short-lived process of its own and exit as it did. The schema steps run
    so: the migration tooling they load (alembic and every migration, ~10 MB) then never stays
    resident in the process that goes on to serve or work."""
    child = multiprocessing.get_context("spawn").Process(target=_exit_as, args=(step,))
    child.start()
    child.join()
    if child.exitcode:
        raise typer.Exit(child.exitcode)


def _exit_as(step: Callable[[], None]) -> None:
    try:
        step()
    except typer.Exit as stop:
        sys.exit(stop.exit_code)


def _schema_for_serving() -> None:
    """Say which database is served; create or migrate it as decision 007 allows."""
    settings = _settings()
    configure_logging(settings)
    with _one_line_errors():
        missing_file = _announce_database(settings.database_url)
        _bring_schema_up(settings, _schema_state(settings.database_url, missing_file=missing_file))


def _schema_for_working() -> None:
    """Say which database the jobs are in; refuse one whose schema is not current."""
    settings = _settings()
    configure_logging(settings)
    with _one_line_errors():
        missing_file = _announce_database(settings.database_url)
        if _schema_state(settings.database_url, missing_file=missing_file) != "current":
            raise CommandFailed(
                "The database schema is not current: run `parley migrate` (or `parley serve`) "
                "first.",
                EXIT_NOT_READY,
            )


def _creating(database_url: str) -> None:
    typer.echo(f"Creating a new database at {_where(database_url)}.", err=True)


def _where(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return str(Path(url.database).resolve())
    return url.render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[
        str | None,
        _option(_from_env("Bind address", "host"), False),
    ] = None,
    port: Annotated[
        int | None,
        _option(_from_env("Port", "port"), False),
    ] = None,
    workers: Annotated[int, _option("Worker processes", min=1)] = 1,
    graceful_timeout: Annotated[
        int, _option("Seconds in-flight requests get to finish on SIGTERM", min=1)
    ] = 30,
) -> None:
    """Migrate a new database, then serve the API."""
    from parley.server.run import serve as run_server

    settings = _settings()
    configure_logging(settings)
    _apart(_schema_for_serving)
    host = host or settings.host
    port = port if port is not None else settings.port
    os.environ[WORKERS_ENV] = str(workers)  # inherited by the workers; see AccessCache
    prepare_multiprocess_dir()
    signal.signal(signal.SIGTERM, _exit_zero_after_drain)
    plural = "s" if workers > 1 else ""
    typer.echo(f"Serving on http://{host}:{port} ({workers} worker{plural}).", err=True)
    run_server(settings, host=host, port=port, workers=workers, graceful_timeout=graceful_timeout)


def _exit_zero_after_drain(_signum: int, _frame: object) -> None:
    # uvicorn re-raises the SIGTERM that stopped it once in-flight requests have finished;
    # a stop that went as planned is a success (exit status 0), not a death by signal.
    raise SystemExit(0)


@app.command()
def worker(
    metrics_port: Annotated[
        int, _option("Serve this worker's /metrics on this port (0: none)", min=0)
    ] = 0,
) -> None:
    """Run jobs from QUEUE_URL until SIGTERM; start as many workers as needed."""
    settings = _settings()
    configure_logging(settings)
    with _one_line_errors():
        if settings.queue_url is None:
            raise CommandFailed(
                "QUEUE_URL is not set: without it, jobs run inside `parley serve`.",
                EXIT_NOT_READY,
            )
    _apart(_schema_for_working)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.host)
    typer.echo(f"Working on {settings.queue_name} (stop with SIGTERM).", err=True)
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    from parley.jobs.worker import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, stop=stop)


@app.command()
def migrate(
    revision: Annotated[str, _option("Target revision")] = "head",
) -> None:
    """Upgrade the database schema to the given revision (default: the newest)."""
    settings = _settings()
    configure_logging(settings)
    from parley.db import migrate as migrations

    with _one_line_errors():
        if _announce_database(settings.database_url):
            _creating(settings.database_url)
        migrations.upgrade(settings.database_url, revision)
    typer.echo(f"Database migrated to {revision}.")


@app.command("create-admin")
def create_admin(
    email: Annotated[str, _option("The administrator's e-mail")],
    password_stdin: Annotated[
        bool,
        _option(
            "Read the password from the first line of standard input (for scripts)",
            False,
            flag="--password-stdin",
        ),
    ] = False,
    password: Annotated[
        str | None,
        _option(
            "The password (visible to other users in the process list: prefer the prompt "
            "or --password-stdin)"
        ),
    ] = None,
    reset_password: Annotated[
        bool,
        _option("Also replace the password of an existing account", False, flag="--reset-password"),
    ] = False,
    create: Annotated[
        bool,
        _option("Create and migrate the database if it does not exist yet", False, flag="--create"),
    ] = False,
) -> None:
    """Create an administrator, or promote the account with that e-mail (its password is
    kept unless --reset-password). Without --password or --password-stdin, asks for it."""
    settings = _settings()
    configure_logging(settings)
    with _one_line_errors():
        if password is not None and password_stdin:
            raise CommandFailed("Give the password one way: --password or --password-stdin.")
        if password_stdin:
            password = _password_from_stdin()
        if password is not None:
            _check_password(email, password)  # before anything is created or changed
        _prepare_admin_database(settings, create=create)
        exists = asyncio.run(_account_exists(settings, email))
        if password is None and (reset_password or not exists):
            password = _password_from_prompt()
            _check_password(email, password)
        user_id = asyncio.run(
            _ensure_admin(settings, email, password=password, reset_password=reset_password)
        )
    if not exists:
        typer.echo(f"Administrator {email} created (id {user_id}).")
    elif reset_password:
        typer.echo(f"Account {email} (id {user_id}) is an administrator; password replaced.")
    else:
        typer.echo(f"Account {email} (id {user_id}) is an administrator; password unchanged.")


def _prepare_admin_database(settings: Settings, *, create: bool) -> None:
    """Refuse to make a database by accident (a command run from the wrong directory)."""
    missing_file = _announce_database(settings.database_url)
    state = _schema_state(settings.database_url, missing_file=missing_file)
    if state == "new" and not create:
        raise CommandFailed(
            f"No Parley database at {_where(settings.database_url)}: run `parley migrate` "
            "(or `parley serve`) there first, check DATABASE_URL and the working directory, "
            "or pass --create.",
            EXIT_NOT_READY,
        )
    _bring_schema_up(settings, state)


def _bring_schema_up(settings: Settings, state: str) -> None:
    """Migrate a new database, and an outdated one only in development (decision 007)."""
    if state == "current":
        return
    if state == "new":
        _creating(settings.database_url)
    elif settings.is_development:
        typer.echo("Migrating the database schema to this version.", err=True)
    else:
        raise CommandFailed(
            "The database schema is behind this version: run `parley migrate` first.",
            EXIT_NOT_READY,
        )
    from parley.db import migrate as migrations

    migrations.upgrade(settings.database_url)


def _check_password(email: str, password: str) -> None:
    from parley.users.schemas import UserCreate
    from parley.users.service import check_new_password

    check_new_password(UserCreate(email=email, password=password).password, field="password")


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandFailed("No password on standard input.")
    return password


def _password_from_prompt() -> str:
    if not sys.stdin.isatty():
        raise CommandFailed(
            "A password is needed: run in a terminal to be asked, or pass --password-stdin."
        )
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


async def _account_exists(settings: Settings, email: str) -> bool:
    from parley.db.engine import create_database
    from parley.users.repository import UserRepository

    database = create_database(settings.database_url)
    try:
        async with database.sessions() as db:
            return await UserRepository(db).get_by_email(email) is not None
    finally:
        await database.dispose()


async def _ensure_admin(
    settings: Settings, email: str, *, password: str | None, reset_password: bool
) -> str:
    from parley.db.engine import create_database
    from parley.db.uow import UnitOfWork
    from parley.users.service import UserService

    database = create_database(settings.database_url)
    try:
        async with database.sessions() as db:
            service = UserService(UnitOfWork(db), settings=settings)
            user = await service.ensure_admin(
                email=email, password=password, reset_password=reset_password
            )
            return str(user.id)
    finally:
        await database.dispose()


if __name__ == "__main__":
    app()
