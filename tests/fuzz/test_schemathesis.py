"""Property-based fuzzing of the live app's own OpenAPI: whatever a client sends, no server
error, and every response matches the schema the API publishes."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

import parley.models  # noqa: F401 - registers the tables
from parley.core.config import Settings
from parley.db.base import Base
from parley.db.engine import create_database
from parley.main import create_app
from tests.conftest import PASSWORD, TEST_SECRET, RecordingMailer

# Bounded so the whole run stays within a minute or two on a small machine.
EXAMPLES_PER_OPERATION = 20
# Operations that would end the fuzzing user's own session or account halfway through.
SELF_DESTRUCTIVE = (
    r"^/api/v1/auth/(logout|logout-all|password/change|password/reset|sessions/\{[^}]+\})$"
)

pytestmark = pytest.mark.slow


def _create_tables(database_url: str) -> None:
    async def create() -> None:
        database = create_database(database_url)
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await database.dispose()

    asyncio.run(create())


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    root: Path = tmp_path_factory.mktemp("fuzz")
    config = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="staging",
        database_url=f"sqlite:///{root / 'fuzz.db'}",
        jwt_secret=TEST_SECRET,
        bcrypt_rounds=4,
        media_dir=root / "media",
        rate_limit_max=1_000_000,
        log_level="CRITICAL",
    )
    _create_tables(config.database_url)
    return create_app(config, mailer=RecordingMailer())


@pytest.fixture(scope="module")
def bearer(fuzz_app: FastAPI) -> dict[str, str]:
    """Sign a user up through the API, on the event loop the fuzzer drives the app on."""
    credentials = {"email": "fuzzer@example.com", "password": PASSWORD}
    with asgi.get_client(fuzz_app) as client:
        base = f"http://{asgi.HOST}"
        assert client.post(f"{base}/api/v1/auth/register", json=credentials).status_code == 201
        login = client.post(f"{base}/api/v1/auth/login", json=credentials)
        assert login.status_code == 200, login.text
        chat = client.post(
            f"{base}/api/v1/sessions",
            json={"title": "fuzzed"},
            headers={"Authorization": f"Bearer {login.json()['data']['access_token']}"},
        )
        assert chat.status_code == 201, chat.text
    return {"Authorization": f"Bearer {login.json()['data']['access_token']}"}


def test_no_request_causes_a_server_error_or_breaks_the_schema(
    fuzz_app: FastAPI, bearer: dict[str, str]
) -> None:
    schema = (
        schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
        .exclude(path_regex=SELF_DESTRUCTIVE)
        .exclude(method="DELETE", path="/api/v1/users/me")
    )
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        # Driven by hand rather than by the pytest plugin, whose lazy loading does not work
        # with this pytest; every operation is fuzzed and every failure is reported at once.
        try:
            _fuzz(operation, bearer)
        except (Exception, BaseExceptionGroup) as failure:
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert not failures, "\n\n".join(failures)


def _fuzz(operation: Any, bearer: dict[str, str]) -> None:
    # Valid inputs and deliberately invalid ones: both must get a documented, non-5xx answer.
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(
            headers=bearer, checks=[not_a_server_error, response_schema_conformance]
        )

    check()
