"""The OpenAPI publishes every accounts route with each status it answers."""

import httpx
import pytest

OPERATIONS = [
    ("post", "/api/v1/auth/email/verify/request", {"202", "401", "403", "429", "503"}),
    ("post", "/api/v1/auth/email/verify", {"200", "400", "422", "429", "503"}),
    ("post", "/api/v1/auth/mfa/totp/setup", {"200", "401", "403", "409", "422", "429", "503"}),
    ("post", "/api/v1/auth/mfa/totp/confirm", {"200", "401", "403", "409", "422", "429"}),
    ("post", "/api/v1/auth/mfa/verify", {"200", "401", "422", "429", "503"}),
    ("post", "/api/v1/auth/mfa/recovery-codes", {"200", "401", "403", "409", "422", "429"}),
    ("delete", "/api/v1/auth/mfa", {"200", "401", "403", "409", "422", "429"}),
    ("post", "/api/v1/auth/login", {"200", "401", "403", "429"}),
    ("post", "/api/v1/api-keys", {"201", "401", "403", "409", "422", "429", "503"}),
    ("get", "/api/v1/api-keys", {"200", "400", "401", "403", "422", "429"}),
    ("delete", "/api/v1/api-keys/{api_key_id}", {"200", "401", "403", "404", "422", "429"}),
    ("get", "/api/v1/users/me/audit", {"200", "400", "401", "403", "429", "503"}),
    ("get", "/api/v1/audit", {"200", "400", "401", "403", "422", "429", "503"}),
]


@pytest.mark.parametrize(("method", "path", "statuses"), OPERATIONS)
async def test_each_accounts_operation_documents_its_statuses(
    client: httpx.AsyncClient, method: str, path: str, statuses: set[str]
) -> None:
    schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"][path][method]["responses"]
    assert statuses <= set(responses), sorted(statuses - set(responses))


async def test_the_login_answer_is_a_token_pair_or_a_second_step(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    text = str(schema["paths"]["/api/v1/auth/login"]["post"]["responses"]["200"])
    assert "TokenPair" in text and "MfaChallengeRead" in text
