"""Shared fixtures: a real database (SQLite by default, PostgreSQL or MariaDB when
PARLEY_TEST_DATABASE_URL names one), the real app behind httpx, and a recording mailer."""

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import parley.models  # noqa: F401 - registers the tables
from parley.core.config import Settings
from parley.core.mail import Mail
from parley.db.base import Base
from parley.db.engine import Database, create_database
from parley.main import create_app
from parley.middleware.access_log import UNMATCHED_ROUTE, route_template
from tests.support.polling import eventually

TEST_SECRET = "test-secret-" + "x" * 60
PASSWORD = "correct horse battery staple"
# A test with a small rate-limit budget (one it counts) starts at least this long before its
# fixed window ends.
SMALL_BUDGET = 1000
WINDOW_EDGE_MARGIN_S = 10


def _database_url(tmp_root: Path) -> str:
    return os.environ.get("PARLEY_TEST_DATABASE_URL") or f"sqlite:///{tmp_root / 'test.db'}"


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parley")


@pytest.fixture(scope="session")
def database_url(tmp_root: Path) -> str:
    return _database_url(tmp_root)


@pytest.fixture(scope="session")
async def schema(database_url: str) -> str:
    """Create the tables once per run, on a clean database."""
    database = create_database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.run_sync(Base.metadata.create_all)
    await database.dispose()
    return database_url


@pytest.fixture
def dialect(database_url: str) -> str:
    return create_database(database_url).dialect


@dataclass
class RecordingMailer:
    """Stands in for the SMTP server, the one external boundary the tests replace."""

    sent: list[Mail] = field(default_factory=list)

    async def send(self, mail: Mail) -> None:
        self.sent.append(mail)

    def matching(self, *, to: str | None = None, containing: str | None = None) -> list[Mail]:
        return [
            m
            for m in self.sent
            if (to is None or m.to == to) and (containing is None or containing in m.body)
        ]

    async def wait_for(
        self,
        *,
        to: str | None = None,
        containing: str | None = None,
        count: int = 1,
        within: float = 30,
    ) -> list[Mail]:
        """The matching mails once `count` of them went out: mail is sent by background
        jobs, after the request that caused it has answered."""
        await eventually(
            lambda: len(self.matching(to=to, containing=containing)) >= count,
            within=within,
            what=f"{count} mail(s) to {to or 'anyone'} containing {containing!r}",
        )
        return self.matching(to=to, containing=containing)


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def settings_factory(schema: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "staging",
            "database_url": schema,
            "jwt_secret": TEST_SECRET,
            "bcrypt_rounds": 4,
            "media_dir": tmp_path / "media",
            "log_format": "console",
            "log_level": "WARNING",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


async def _clear(database: Database) -> None:
    async with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


@pytest.fixture
async def app_factory(
    settings_factory: Callable[..., Settings], mailer: RecordingMailer
) -> AsyncIterator[Callable[..., FastAPI]]:
    """Build apps with setting overrides; each runs its lifespan and is cleaned up after."""
    apps: list[tuple[FastAPI, Any]] = []

    async def make(**overrides: Any) -> FastAPI:
        settings = settings_factory(**overrides)
        if overrides.get("rate_limit_max", SMALL_BUDGET) < SMALL_BUDGET:
            await _clear_of_window_edge(settings.rate_limit_window)
        application = create_app(settings, mailer=mailer, single_worker=True)
        lifespan = application.router.lifespan_context(application)
        await lifespan.__aenter__()
        apps.append((application, lifespan))
        return application

    yield make  # type: ignore[misc]
    for application, _lifespan in apps:  # background work ends before the tables are emptied
        await application.state.webhook_dispatcher.stop()
        await application.state.resources.jobs.stop()
    for application, lifespan in reversed(apps):
        await _clear(application.state.resources.database)
        await lifespan.__aexit__(None, None, None)


async def _clear_of_window_edge(window_seconds: int) -> None:
    """Wait out the end of the current fixed rate-limit window when it is near: a test that
    counts its budget must not see it renewed half-way (windows start at multiples of their
    length since the epoch)."""
    left = window_seconds - time.time() % window_seconds
    if left < WINDOW_EDGE_MARGIN_S:
        await asyncio.sleep(left + 0.05)


@pytest.fixture
async def app(app_factory: Callable[..., Any]) -> FastAPI:
    application: FastAPI = await app_factory()
    return application


class AnsweredStatuses:
    """Records, across the whole run, each (operation, status) pair an app answers, so the
    last test can check that the published OpenAPI documents every one of them."""

    def __init__(self) -> None:
        # (method, path template, status) -> the first app that answered it
        self.seen: dict[tuple[str, str, int], FastAPI] = {}

    def wrap(self, application: FastAPI) -> ASGIApp:
        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            statuses: list[int] = []

            async def send_recorded(message: Message) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])
                await send(message)

            try:
                await application(scope, receive, send_recorded)
            finally:
                # The routed scope names the matched route; refusals that came before routing
                # (a 429) are matched against the published paths instead.
                method = "get" if scope["method"] == "HEAD" else scope["method"].lower()
                path = route_template(scope)
                if path == UNMATCHED_ROUTE:
                    path = _published_template(application, method, scope["path"])
                for status in statuses if path else ():
                    self.seen.setdefault((method, path, status), application)

        return recording

    def undocumented(self) -> list[str]:
        """Every answered pair the OpenAPI lacks, as `METHOD /path: status`."""
        missing = []
        # Apps with the same routes publish the same OpenAPI: build it once per set of routes.
        published: dict[tuple[Any, ...], dict[str, Any]] = {}
        for (method, path, status), application in sorted(self.seen.items(), key=lambda i: i[0]):
            routes = tuple(
                (getattr(r, "path", None), getattr(r, "endpoint", None)) for r in application.routes
            )
            if routes not in published:
                published[routes] = application.openapi()["paths"]
            paths = published[routes]
            # A method the path lacks is no operation: its 405 is checked by the Allow tests.
            operation = paths.get(path, {}).get(method)
            if operation is not None and str(status) not in operation["responses"]:
                missing.append(f"{method.upper()} {path}: {status}")
        return missing


def _published_template(application: FastAPI, method: str, path: str) -> str | None:
    """The OpenAPI path a raw path falls under, literal segments first (/users/me, not /{id})."""
    candidates = []
    for template, item in application.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if method in item and re.fullmatch(pattern, path):
            candidates.append((template.count("{"), template))
    return min(candidates)[1] if candidates else None


ANSWERED = AnsweredStatuses()


class OpenAPICoverage(pytest.Item):
    """Runs after every other test: fails on each answered status the OpenAPI lacks."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # It builds the OpenAPI of the apps the run made: more than one test's time limit.
        self.add_marker(pytest.mark.timeout(900))

    def runtest(self) -> None:
        missing = ANSWERED.undocumented()
        if missing:
            raise AssertionError(
                f"{len(missing)} answered statuses are not in the OpenAPI:\n  "
                + "\n  ".join(missing)
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[str, int, str]:
        return "tests/conftest.py", 0, "the OpenAPI documents every answered status"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    items.append(OpenAPICoverage.from_parent(session, name="openapi_documents_answered_statuses"))


def make_client(application: FastAPI, **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=ANSWERED.wrap(application), client=kwargs.pop("peer", ("203.0.113.7", 5000))
    )
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", **kwargs)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as http:
        yield http


@dataclass
class Account:
    """A signed-up, signed-in user as a client sees it."""

    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def sign_up(
    http: httpx.AsyncClient, *, email: str | None = None, password: str = PASSWORD, **extra: Any
) -> Account:
    """Register and log in through the API, as a client would."""
    email = email or unique_email()
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": password, **extra}
    )
    assert registered.status_code == 201, registered.text
    tokens = await log_in(http, email=email, password=password)
    return Account(
        id=registered.json()["data"]["id"],
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        session_id=tokens["session_id"],
    )


async def log_in(
    http: httpx.AsyncClient, *, email: str, password: str = PASSWORD, **kwargs: Any
) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/auth/login", json={"email": email, "password": password}, **kwargs
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def make_admin(app: FastAPI, http: httpx.AsyncClient) -> Account:
    """An administrator made the way operators make one: through the users service."""
    from parley.db.uow import UnitOfWork
    from parley.users.service import UserService

    resources = app.state.resources
    email = unique_email("admin")
    async with resources.database.sessions() as db:
        await UserService(UnitOfWork(db), settings=resources.settings).ensure_admin(
            email=email, password=PASSWORD
        )
    tokens = await log_in(http, email=email)
    return Account(
        id="",
        email=email,
        password=PASSWORD,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        session_id=tokens["session_id"],
    )


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Account:
    return await sign_up(client, email=unique_email("alice"))


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> Account:
    return await sign_up(client, email=unique_email("bob"))


@pytest.fixture
async def admin(app: FastAPI, client: httpx.AsyncClient) -> Account:
    return await make_admin(app, client)


@contextmanager
def count_queries(application: FastAPI) -> Iterator[list[str]]:
    """Collect the SQL statements the application sends while the block runs."""
    statements: list[str] = []
    engine = application.state.resources.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if (
            not statement.lstrip()
            .upper()
            .startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"))
        ):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the contract's error envelope and return its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "error"
    assert body["error"]["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert "x-request-id" in response.headers
    return body


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    """A 503 in the error envelope, with the Retry-After a client needs to come back."""
    body = assert_error(response, 503, "unavailable")
    assert int(response.headers["retry-after"]) >= 1
    return body


def requires(dialects: set[str]) -> pytest.MarkDecorator:
    """Skip unless the suite runs on one of these databases."""
    current = create_database(_database_url(Path("/tmp"))).dialect
    return pytest.mark.skipif(
        current not in dialects, reason=f"needs {' or '.join(sorted(dialects))}"
    )
