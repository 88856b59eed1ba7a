"""Property-based fuzzing of the live app's own OpenAPI with every schemathesis check, in every
phase (examples, coverage, fuzzing, and the stateful phase along the published links): whatever
a client sends, it gets a documented answer that matches the schema the API publishes."""

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi

import parley.models  # noqa: F401 - registers the tables
from parley.core.config import Settings
from parley.core.schemas import PHONE_FORMAT
from parley.db.base import Base
from parley.db.engine import create_database
from parley.main import create_app
from tests.conftest import PASSWORD, TEST_SECRET, RecordingMailer

# Bounded so the whole file stays well within a minute or two on a small machine.
EXAMPLES_PER_OPERATION = 15
STATEFUL_MAX_STEPS = 8
# Operations that would end the fuzzing user's own session or account halfway through.
SELF_DESTRUCTIVE = (
    r"^/api/v1/auth/(logout|logout-all|password/change|password/reset|sessions/\{[^}]+\})$"
)
# What schemathesis accepts by default as an answer to schema-valid data.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# Documented answers to schema-valid data that the schema cannot rule out (decision 078): a
# cursor the server did not issue is a 400, a well-formed phone number that no numbering plan
# assigns a 422, and a file whose bytes are of no accepted type a 415.
UNISSUED_CURSOR = (
    r"^GET /api/v1/(auth/sessions|sessions|sessions/\{[^}]+\}/(messages|sellers)"
    r"|vendors|sellers|users|api-keys|users/me/audit|audit|events|webhooks"
    r"|webhooks/\{[^}]+\}/deliveries)$",
    ["400"],
)
# A token the server did not mail is 400, as a used or expired one; a confirmation password
# that is not the account's is 422 (decision 003).
UNISSUED_TOKEN = (r"^POST /api/v1/auth/email/verify$", ["400"])
WRONG_PASSWORD = (
    r"^(POST /api/v1/auth/mfa/(totp/setup|recovery-codes)|DELETE /api/v1/auth/mfa)$",
    ["422"],
)
# A webhook URL whose host does not resolve, or resolves to a private address, is a 422.
UNREACHABLE_URL = (r"^(POST|PATCH) /api/v1/webhooks(/\{[^}]+\})?$", ["422"])
UNASSIGNED_PHONE_NUMBER = (
    r"^(POST|PATCH) /api/v1/(auth/register|users/me|users/\{[^}]+\}|sessions/\{[^}]+\}/vendor)$",
    ["422"],
)
UNACCEPTED_FILE = (r"^POST /api/v1/sessions/\{[^}]+\}/messages$", ["415", "422"])

pytestmark = pytest.mark.slow


def _valid_phone_numbers() -> st.SearchStrategy[str]:
    """The numbers the server accepts: one assigned example per region (libphonenumber's)."""
    numbers = (
        phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    )
    e164 = phonenumbers.PhoneNumberFormat.E164
    return st.sampled_from([phonenumbers.format_number(n, e164) for n in numbers if n])


@schemathesis.hook
def before_call(_ctx: Any, case: Any, **_kwargs: Any) -> None:
    """Give every request that carries a well-formed Idempotency-Key a key of its own: a
    generated key drawn twice would be a reused key (422), not a broken contract. Malformed keys
    are kept, and must be refused."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(r"[ -~]{1,255}", key) and key == key.strip():
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


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
    return {"Authorization": f"Bearer {login.json()['data']['access_token']}"}


@pytest.fixture(scope="module")
def phone_format() -> Iterator[None]:
    schemathesis.openapi.format(PHONE_FORMAT, _valid_phone_numbers())
    yield
    from schemathesis.specs.openapi.formats import unregister_string_format

    unregister_string_format(PHONE_FORMAT)


def _config(bearer: dict[str, str]) -> SchemathesisConfig:
    def accepting(*extra: str) -> dict[str, Any]:
        return {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, *extra]}}

    return SchemathesisConfig.from_dict(
        {
            "headers": bearer,
            "seed": 8,
            "generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True},
            "checks": {"enabled": True},  # every check schemathesis has
            "phases": {
                # The stateful phase follows the links the API publishes (decision 079).
                "stateful": {"max-steps": STATEFUL_MAX_STEPS, "inference": {"algorithms": []}}
            },
            "operations": [
                {"include-name-regex": name, "checks": accepting(*statuses)}
                for name, statuses in (
                    UNISSUED_CURSOR,
                    UNASSIGNED_PHONE_NUMBER,
                    UNACCEPTED_FILE,
                    UNISSUED_TOKEN,
                    WRONG_PASSWORD,
                    UNREACHABLE_URL,
                )
            ],
        }
    )


def test_no_request_breaks_the_published_contract(
    fuzz_app: FastAPI, bearer: dict[str, str], phone_format: None
) -> None:
    schema = (
        schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=_config(bearer))
        .exclude(path_regex=SELF_DESTRUCTIVE)
        .exclude(method="DELETE", path="/api/v1/users/me")
        # A live stream has no end to check; tests/integration/test_event_stream.py reads it.
        .exclude(path="/api/v1/events/stream")
    )
    failures: dict[tuple[str, str, str], str] = {}
    phases: dict[str, str] = {}
    links = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseStarted) and event.payload is not None:
            links = event.payload.transitions_selected
        elif isinstance(event, events.PhaseFinished):
            phases[event.phase.name] = event.status
        elif isinstance(event, events.ScenarioFinished):
            failures.update(_failures(event.recorder))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures["error", type(event).__name__, getattr(event, "label", "")] = str(event)
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                failures["after run", failure.title, failure.operation or ""] = failure.message
    ran = {name for name, status in phases.items() if status != "skip"}
    assert {"coverage", "fuzzing", "stateful"} <= ran, phases
    assert links >= 15, "the stateful phase follows the published links"
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(
        f"{check} | {title} | {operation}\n{detail}"
        for (check, title, operation), detail in sorted(failures.items())
    )


def _failures(recorder: Any) -> Iterator[tuple[tuple[str, str, str], str]]:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            answer = ""
            if interaction is not None and interaction.response is not None:
                response = interaction.response
                answer = f"\n-> {response.status_code} {response.content[:300]!r}"
            detail = f"{failure.message}{answer}\n{check.failure_info.code_sample}"
            yield (check.name, failure.title, recorder.label), detail
