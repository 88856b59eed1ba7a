"""Logs: one access line per request, security events, no secrets, no forged lines."""

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI

from parley.core.config import Settings
from parley.core.logging import security_event
from parley.main import create_app
from tests.conftest import PASSWORD, _clear, make_client, sign_up
from tests.e2e.accounts_helpers import link_token
from tests.support.mail import all_mail_delivered


def json_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


async def json_app(app_factory: Callable[..., Any], **overrides: Any) -> FastAPI:
    settings = {"log_format": "json", "log_level": "INFO", **overrides}
    application: FastAPI = await app_factory(**settings)
    return application


async def test_each_request_writes_one_access_line(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    application = await json_app(app_factory)
    async with make_client(application, peer=("198.51.100.4", 1234)) as http:
        account = await sign_up(http)
        capsys.readouterr()
        response = await http.get(
            "/api/v1/users/me", headers={**account.headers, "X-Request-ID": "trace-me-1"}
        )

    access = [line for line in json_lines(capsys.readouterr().out) if line["event"] == "request"]
    assert len(access) == 1
    line = access[0]
    assert response.status_code == 200
    assert line["request_id"] == "trace-me-1"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/users/me"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int)
    assert line["user_id"] == account.id
    assert line["client_ip"] == "198.51.100.4"


async def test_the_access_line_names_the_route_template_not_the_raw_path(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    application = await json_app(app_factory)
    async with make_client(application) as http:
        account = await sign_up(http)
        capsys.readouterr()
        await http.get(
            "/api/v1/sessions/01a1f7a0-0000-7000-8000-000000000000", headers=account.headers
        )

    (line,) = [x for x in json_lines(capsys.readouterr().out) if x["event"] == "request"]
    assert line["route"] == "/api/v1/sessions/{chat_session_id}"
    assert line["status"] == 404


async def test_no_password_or_token_reaches_the_logs(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    application = await json_app(app_factory)
    async with make_client(application) as http:
        account = await sign_up(http)
        await http.post("/api/v1/auth/login", json={"email": account.email, "password": "wrong"})
        refreshed = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        await http.get("/api/v1/users/me", headers=account.headers)
        await http.post("/api/v1/auth/password/forgot", json={"email": account.email})

    output = capsys.readouterr().out
    assert output
    secrets = [
        PASSWORD,
        account.access_token,
        account.refresh_token,
        refreshed.json()["data"]["refresh_token"],
        account.access_token.split(".")[2],  # even the JWT signature alone
    ]
    for secret in secrets:
        assert secret not in output


def test_secret_fields_are_redacted_in_any_log_line(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from parley.core.config import Settings
    from parley.core.logging import configure_logging

    configure_logging(Settings(_env_file=None, log_format="json"))  # type: ignore[call-arg]
    security_event(
        "login_failed",
        email="a@example.com",
        password="hunter2-hunter2",
        headers={"Authorization": "Bearer abc.def.ghi", "Accept": "*/*"},
        refresh_token="r-secret",
        note="sent Bearer sometoken123 by mistake",
    )

    (line,) = json_lines(capsys.readouterr().out)
    assert line["event"] == "login_failed"
    assert line["category"] == "security"
    assert line["email"] == "a@example.com"
    assert "hunter2" not in json.dumps(line)
    assert "abc.def.ghi" not in json.dumps(line)
    assert "r-secret" not in json.dumps(line)
    assert "sometoken123" not in json.dumps(line)
    assert line["headers"]["Accept"] == "*/*"


async def test_control_characters_cannot_forge_a_console_line(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    application: FastAPI = await app_factory(log_format="console", log_level="INFO")
    capsys.readouterr()
    async with make_client(application) as http:
        await http.get("/api/v1/x%0Aforged%20event=admin_login%0D%1B[31m")

    # The test's own HTTP client logs too; the service's lines are the ones that count.
    output = "\n".join(x for x in capsys.readouterr().out.splitlines() if "[httpx]" not in x)
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1  # the access line, whole
    assert "\x1b" not in output and "\r" not in output
    assert "\\n" in lines[0] and lines[0].count("forged") == 1


async def test_an_unhandled_error_is_a_500_envelope_logged_with_its_trace(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    application = await json_app(app_factory)

    async def explode() -> None:
        raise RuntimeError("kaboom in the handler")

    application.add_api_route("/boom", explode)
    async with make_client(application) as http:
        response = await http.get("/boom", headers={"X-Request-ID": "boom-1"})

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "kaboom" not in response.text  # staging: no internals in the body
    assert response.headers["x-request-id"] == "boom-1"
    lines = json_lines(capsys.readouterr().out)
    (error,) = [x for x in lines if x["event"] == "unhandled_error"]
    assert error["request_id"] == "boom-1"
    assert "Traceback" in error["exception"] and "kaboom in the handler" in error["exception"]
    (access,) = [x for x in lines if x["event"] == "request"]
    assert access["status"] == 500 and access["request_id"] == "boom-1"


async def test_a_failed_login_is_a_security_event_of_its_own(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    application = await json_app(app_factory)
    async with make_client(application) as http:
        account = await sign_up(http)
        capsys.readouterr()
        await http.post(
            "/api/v1/auth/login", json={"email": account.email, "password": "not it at all"}
        )

    lines = json_lines(capsys.readouterr().out)
    (event,) = [x for x in lines if x["event"] == "login_failed"]
    assert event["category"] == "security"
    assert event["request_id"]
    assert "not it at all" not in json.dumps(lines)


async def test_refusals_before_the_app_are_logged_and_counted_too(
    app_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    application = await json_app(app_factory, rate_limit_max=1, rate_limit_window="1h")
    async with make_client(application) as http:
        await http.get("/api/v1/users/me", headers={"X-Request-ID": "first-1"})
        refused = await http.get("/api/v1/users/me", headers={"X-Request-ID": "late-1"})
        metrics = (await http.get("/metrics")).text

    assert refused.status_code == 429
    lines = [x for x in json_lines(capsys.readouterr().out) if x["event"] == "request"]
    late = [x for x in lines if x["request_id"] == "late-1"]
    # Refused before routing, so under the one label of unmatched requests.
    assert [(x["status"], x["route"], x["method"]) for x in late] == [(429, "<unmatched>", "GET")]
    assert 'method="GET",route="<unmatched>",status="429"' in metrics


@asynccontextmanager
async def mail_to_log_app(
    settings_factory: Callable[..., Settings], **overrides: Any
) -> AsyncIterator[FastAPI]:
    """An app with no SMTP server configured: its own mailer writes the mail to the log."""
    settings = settings_factory(log_format="json", log_level="INFO", **overrides)
    application = create_app(settings, single_worker=True)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await _clear(application.state.resources.database)


async def test_without_smtp_mail_is_logged_with_its_link_tokens_redacted(
    settings_factory: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        mail_to_log_app(settings_factory, environment="staging") as application,
        make_client(application) as http,
    ):
        account = await sign_up(http)
        forgot = await http.post("/api/v1/auth/password/forgot", json={"email": account.email})
        assert forgot.status_code == 202
        await all_mail_delivered(application)

    output = capsys.readouterr().out
    lines = json_lines(output)
    (warning,) = [line for line in lines if line["event"] == "mail_not_sent"]
    assert warning["level"] == "warning" and "SMTP_HOST" in warning["reason"]
    bodies = [line["body"] for line in lines if line["event"] == "mail_logged"]
    assert len(bodies) == 2
    # A logged value's line breaks are escaped.
    assert any("/verify-email?token=[redacted]\\n" in body for body in bodies)
    assert any("/reset-password?token=[redacted]\\n" in body for body in bodies)
    assert re.search(r"token=(?!\[redacted\])", output) is None


async def test_in_development_the_log_is_the_mailbox_and_its_links_work(
    settings_factory: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        mail_to_log_app(settings_factory, environment="development") as application,
        make_client(application) as http,
    ):
        await sign_up(http)
        await all_mail_delivered(application)
        lines = json_lines(capsys.readouterr().out)
        assert [line for line in lines if line["event"] == "mail_not_sent"] == []
        (mail,) = [line for line in lines if line["event"] == "mail_logged"]
        token = link_token(mail["body"].replace("\\n", "\n"), "/verify-email")
        verified = await http.post("/api/v1/auth/email/verify", json={"token": token})
        assert verified.status_code == 200, verified.text
