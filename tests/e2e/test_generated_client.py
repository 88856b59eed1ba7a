"""A client generated from the published OpenAPI by an independent generator
(openapi-python-client) builds without a single warning, and works against the real app:
sign up, sign in, chat, upload and download, and errors parsed into the published models."""

import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from parley.core.config import Settings
from parley.main import create_app
from tests.conftest import ANSWERED, PASSWORD, TEST_SECRET, RecordingMailer, unique_email
from tests.e2e.chat_helpers import MISSING, PNG

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "parley_generated_client"
OCTET_STREAM = "application/octet-stream"
# The generated models of the message endpoint's two bodies are named after its operation.
POST_MESSAGE = "PostMessageApiV1SessionsChatSessionIdMessagesPost"

pytestmark = pytest.mark.slow


def _binary_media_types(openapi: dict[str, Any]) -> set[str]:
    """Every response type the OpenAPI publishes as raw bytes (the media downloads)."""
    return {
        media_type
        for item in openapi["paths"].values()
        for operation in item.values()
        for response in operation.get("responses", {}).values()
        for media_type, content in response.get("content", {}).items()
        if content.get("schema", {}).get("format") == "binary"
    }


def _generate(openapi: dict[str, Any], workdir: Path) -> str:
    """Run the generator offline on the document; return everything it printed."""
    (workdir / "openapi.json").write_text(json.dumps(openapi))
    # The generator knows bytes only as application/octet-stream; told that the published
    # binary types are bytes, it types the download instead of dropping it (decision 077).
    overrides = dict.fromkeys(_binary_media_types(openapi), OCTET_STREAM)
    (workdir / "config.json").write_text(json.dumps({"content_type_overrides": overrides}))
    # Its post-generation hooks run ruff, which lives next to the generator.
    path = f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path=openapi.json",
            "--config=config.json",
            "--meta=none",
            f"--output-path={PACKAGE}",
        ],
        cwd=workdir,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    _import_unset_where_used(workdir / PACKAGE)
    return output


def _import_unset_where_used(package: Path) -> None:
    """Work around the generator's one known bug on this document (upstream issue #1451):
    an operation with two required bodies (JSON or multipart) is typed `| Unset` without
    importing `Unset`. Only that import is added, only where the name is used unimported."""
    for module in (package / "api").rglob("*.py"):
        source = module.read_text()
        if re.search(r"\bUnset\b", source) and not re.search(r"import .*\bUnset\b", source):
            source, added = re.subn(
                r"^from \.\.\.types import (.+)$", r"\g<0>, Unset", source, count=1, flags=re.M
            )
            assert added == 1, module
            module.write_text(source)


@pytest.fixture(scope="module")
async def openapi(schema: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as the running app serves it (it does not vary with settings)."""
    config = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="staging",
        database_url=schema,
        jwt_secret=TEST_SECRET,
        media_dir=tmp_path_factory.mktemp("media"),
    )
    app = create_app(config, mailer=RecordingMailer(), single_worker=True)
    async with app.router.lifespan_context(app), _http(app) as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture(scope="module")
def generation(
    openapi: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ModuleType]]:
    """Generate the client once for the module, and import it."""
    workdir = tmp_path_factory.mktemp("generated-client")
    output = _generate(openapi, workdir)
    sys.path.insert(0, str(workdir))
    try:
        yield output, importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(workdir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def generated(generation: tuple[str, ModuleType]) -> ModuleType:
    return generation[1]


def _http(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=_transport(app), base_url="http://testserver")


def _transport(app: FastAPI) -> httpx.ASGITransport:
    # Recorded like every other test's requests (see tests/conftest.py).
    return httpx.ASGITransport(app=ANSWERED.wrap(app), client=("203.0.113.9", 5000))


def _op(generated: ModuleType, tag: str, operation: str) -> Any:
    """An operation module of the generated client, by its tag and operation name."""
    package = importlib.import_module(f"{generated.__name__}.api.{tag}")
    names = [p.stem for p in Path(package.__file__ or "").parent.glob(f"{operation}_api_*.py")]
    assert len(names) == 1, (operation, names)
    return importlib.import_module(f"{package.__name__}.{names[0]}")


def _model(generated: ModuleType, name: str) -> Any:
    return getattr(importlib.import_module(f"{generated.__name__}.models"), name)


def _client(generated: ModuleType, app: FastAPI, token: str | None = None) -> Any:
    options = {
        "base_url": "http://testserver",
        "raise_on_unexpected_status": True,  # an undocumented status fails the test
        "httpx_args": {"transport": _transport(app)},
    }
    if token is None:
        return generated.Client(**options)
    return generated.AuthenticatedClient(token=token, **options)


def test_the_generator_prints_no_warning(generation: tuple[str, ModuleType]) -> None:
    output, _ = generation
    printed = [line for line in output.splitlines() if line.strip()]
    assert printed == [f"Generating {PACKAGE}"], output


def test_the_generated_package_is_sound_python(generated: ModuleType) -> None:
    """Every module imports, and pyflakes finds no undefined or unused name in any."""
    root = Path(generated.__file__ or "").parent
    for module in pkgutil.walk_packages([str(root)], prefix=f"{PACKAGE}."):
        importlib.import_module(module.name)
    ruff = GENERATOR.parent / "ruff"
    lint = subprocess.run(
        [ruff, "check", "--isolated", "--no-cache", "--select=F", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_generated_client_keeps_every_token_error(generated: ModuleType) -> None:
    """Before, the three error responses of /auth/token were dropped as unparseable unions."""
    token = _op(generated, "auth", "token")
    source = Path(token.__file__).read_text()
    for status in (400, 401, 403, 429):
        assert f"response.status_code == {status}" in source, status


async def _signed_in(generated: ModuleType, app: FastAPI) -> Any:
    """A new account, registered and signed in through the generated client."""
    email = unique_email("generated")
    anonymous = _client(generated, app)
    registered = await _op(generated, "auth", "register").asyncio_detailed(
        client=anonymous, body=_model(generated, "UserCreate")(email=email, password=PASSWORD)
    )
    assert registered.status_code == 201, registered.content
    assert registered.parsed.data.email == email
    login = await _op(generated, "auth", "login").asyncio_detailed(
        client=anonymous, body=_model(generated, "LoginRequest")(email=email, password=PASSWORD)
    )
    assert login.status_code == 200, login.content
    return _client(generated, app, token=login.parsed.data.access_token)


async def test_a_generated_client_chats_with_the_app(generated: ModuleType, app: FastAPI) -> None:
    me = await _signed_in(generated, app)
    created = await _op(generated, "chat_sessions", "create_session").asyncio_detailed(
        client=me, body=_model(generated, "ChatSessionCreate")(title="Generated")
    )
    assert created.status_code == 201, created.content
    session_id = created.parsed.data.id

    post = _op(generated, "chat_sessions", "post_message").asyncio_detailed
    text = _model(generated, f"{POST_MESSAGE}JsonMessageCreate")(content="Hello")
    posted = await post(session_id, client=me, body=text)
    assert posted.status_code == 201, posted.content
    png = generated.types.File(payload=BytesIO(PNG), file_name="a.png", mime_type="image/png")
    media = _model(generated, f"{POST_MESSAGE}FilesMediaMessageFields")(file=png, content="Pic")
    uploaded = await post(session_id, client=me, body=media)
    assert uploaded.status_code == 201, uploaded.content

    listed = await _op(generated, "chat_sessions", "list_messages").asyncio_detailed(
        session_id, client=me
    )
    assert listed.status_code == 200, listed.content
    assert [message.content for message in listed.parsed.data.items] == ["Hello", "Pic"]

    download = await _op(generated, "media", "download_media").asyncio_detailed(
        uploaded.parsed.data.media.id, client=me
    )
    assert download.status_code == 200
    assert download.parsed.payload.read() == PNG


async def test_errors_are_parsed_into_the_published_models(
    generated: ModuleType, app: FastAPI
) -> None:
    envelope = _model(generated, "ErrorEnvelope")
    anonymous = _client(generated, app)
    too_short = await _op(generated, "auth", "register").asyncio_detailed(
        client=anonymous,
        body=_model(generated, "UserCreate")(email=unique_email("short"), password="short"),
    )
    assert too_short.status_code == 422
    assert isinstance(too_short.parsed, envelope)
    assert too_short.parsed.error.code == "validation_error"
    assert [detail.field for detail in too_short.parsed.error.details] == ["body.password"]

    form = _model(generated, "TokenApiV1AuthTokenPostTokenRequest")
    refused = await _op(generated, "auth", "token").asyncio_detailed(
        client=anonymous, body=form(username=unique_email("nobody"), password=PASSWORD)
    )
    assert refused.status_code == 401
    assert isinstance(refused.parsed, _model(generated, "OAuth2Error"))
    assert refused.parsed.error.value == "invalid_grant"

    me = await _signed_in(generated, app)
    missing = await _op(generated, "chat_sessions", "get_session").asyncio_detailed(
        UUID(MISSING), client=me
    )
    assert missing.status_code == 404
    assert isinstance(missing.parsed, envelope)
    assert missing.parsed.error.code == "not_found"
