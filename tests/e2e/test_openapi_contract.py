"""The published contract tells the truth: each operation's errors, its request rules and
binary types are in the OpenAPI; 405 names every method of the path; HEAD answers wherever GET
does; and the token endpoint answers a malformed form as RFC 6749 says."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, Account, make_admin
from tests.e2e.chat_helpers import API, MISSING, PNG, new_session, upload

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def _responses(openapi: dict[str, Any], method: str, path: str) -> set[str]:
    return set(openapi["paths"][f"{API}{path}"][method]["responses"])


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/auth/login", {"401", "403", "429", "503"}),
        ("post", "/auth/refresh", {"401", "429", "503"}),
        ("post", "/auth/register", {"409", "429", "503"}),
        ("patch", "/users/me", {"409", "401", "429", "503"}),
        ("get", "/users", {"401", "403", "400"}),
        ("get", "/users/{user_id}", {"401", "403", "404"}),
        ("patch", "/users/{user_id}", {"401", "403", "404", "409"}),
        ("delete", "/users/{user_id}", {"401", "403", "404", "409"}),
        ("post", "/auth/token", {"400", "401", "403", "413", "429", "503"}),
    ],
)
async def test_operations_document_the_errors_they_answer(
    openapi: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    assert statuses <= _responses(openapi, method, path)


async def test_every_api_operation_documents_429_and_503(openapi: dict[str, Any]) -> None:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if path.startswith(API):
                assert {"429", "503"} <= set(operation["responses"]), (method, path)


async def test_the_token_errors_are_named_schemas_a_client_can_parse(
    openapi: dict[str, Any],
) -> None:
    responses = openapi["paths"][f"{API}/auth/token"]["post"]["responses"]
    oauth2 = {"$ref": "#/components/schemas/OAuth2Error"}
    for status in ("400", "401", "403"):
        assert responses[status]["content"]["application/json"]["schema"] == oauth2
    assert (
        "invalid_request"
        in openapi["components"]["schemas"]["OAuth2Error"]["properties"]["error"]["enum"]
    )


async def test_request_rules_are_in_the_schemas(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    phone = schemas["VendorCreate"]["properties"]["phone_number"]
    assert phone["pattern"] == r"^\+[1-9][0-9]{1,14}$"
    image_url = schemas["SellerCreate"]["properties"]["image_url"]["anyOf"][0]
    assert image_url["format"] == "uri" and image_url["maxLength"] == 2048
    assert image_url["pattern"].startswith("^[Hh][Tt][Tt][Pp][Ss]?://")
    for model, field in [("SellerCreate", "name"), ("ChatSessionUpdate", "title")]:
        assert schemas[model]["properties"][field]["pattern"] == r"^[^\u0000]*$", model


async def test_media_downloads_document_every_type_they_serve(openapi: dict[str, Any]) -> None:
    content = openapi["paths"][f"{API}/media/{{media_id}}"]["get"]["responses"]["200"]["content"]
    assert {"image/png", "image/jpeg", "audio/ogg", "video/mp4", "application/pdf"} <= set(content)
    assert "application/octet-stream" not in content


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", f"/sessions/{MISSING}/vendor", "DELETE, GET, HEAD, PATCH, POST"),
        ("PUT", "/users/me", "DELETE, GET, HEAD, PATCH"),
        ("POST", f"/sessions/{MISSING}", "DELETE, GET, HEAD, PATCH"),
        ("DELETE", "/sessions", "GET, HEAD, POST"),
        ("GET", "/auth/login", "POST"),
    ],
)
async def test_a_405_allows_exactly_the_methods_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, f"{API}{path}")
    assert response.status_code == 405
    assert response.headers["allow"] == allow


async def test_a_405_outside_the_api_allows_get_and_head(client: httpx.AsyncClient) -> None:
    response = await client.post("/health/live")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


_VARYING = {"x-request-id", "ratelimit-remaining", "ratelimit-reset", "content-length"}


async def _head_matches_get(http: httpx.AsyncClient, path: str, **kwargs: Any) -> None:
    got = await http.get(path, **kwargs)
    head = await http.head(path, **kwargs)
    assert head.status_code == got.status_code == 200, (path, head.status_code)
    assert head.content == b""
    assert sorted(head.headers) == sorted(got.headers), path
    for name, value in got.headers.items():
        if name not in _VARYING:
            assert head.headers[name] == value, (path, name)


async def test_head_answers_wherever_get_does(client: httpx.AsyncClient, alice: Account) -> None:
    sid = (await new_session(client, alice))["id"]
    media = (await upload(client, alice, sid, PNG, filename="a.png")).json()["data"]["media"]
    for path in ("/health/live", "/metrics", "/openapi.json", "/docs"):
        await _head_matches_get(client, path)
    for path in (f"{API}/users/me", f"{API}/sessions/{sid}", f"{API}/media/{media['id']}"):
        await _head_matches_get(client, path, headers=alice.headers)
    download = await client.head(f"{API}/media/{media['id']}", headers=alice.headers)
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-length"] == str(len(PNG))


async def test_head_on_an_admin_list_is_served_like_its_get(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    await _head_matches_get(client, f"{API}/users", headers=admin.headers)


# The token endpoint -------------------------------------------------------------------------


def _assert_invalid_request(response: httpx.Response, error: str = "invalid_request") -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}, body  # RFC 6749, no envelope
    assert body["error"] == error
    assert PASSWORD not in body["error_description"]


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({}, id="no body"),
        pytest.param({"content": b"", "headers": {"Content-Type": FORM}}, id="empty form"),
        pytest.param(
            {"data": {"grant_type": "", "username": "a@example.com", "password": PASSWORD}},
            id="empty grant",
        ),
        pytest.param({"data": {"grant_type": "password", "password": PASSWORD}}, id="no username"),
        pytest.param(
            {"data": {"grant_type": "password", "username": "a@example.com"}}, id="no password"
        ),
        pytest.param(
            {"data": {"grant_type": "password", "username": "", "password": PASSWORD}},
            id="empty username",
        ),
        pytest.param(
            {"json": {"grant_type": "password", "username": "a@example.com", "password": "x"}},
            id="json body",
        ),
        pytest.param(
            {"content": b"grant_type=password", "headers": {"Content-Type": "text/plain"}},
            id="wrong content type",
        ),
        pytest.param(
            {
                "content": b"grant_type=password&username=a&username=b&password=x",
                "headers": {"Content-Type": FORM},
            },
            id="repeated username",
        ),
    ],
)
async def test_a_malformed_token_request_is_rfc6749_invalid_request(
    client: httpx.AsyncClient, request_kwargs: dict[str, Any]
) -> None:
    _assert_invalid_request(await client.post(f"{API}/auth/token", **request_kwargs))


async def test_another_grant_type_is_unsupported_grant_type(
    client: httpx.AsyncClient, alice: Account
) -> None:
    data = {"grant_type": "client_credentials", "username": alice.email, "password": PASSWORD}
    _assert_invalid_request(
        await client.post(f"{API}/auth/token", data=data), error="unsupported_grant_type"
    )


@pytest.mark.parametrize(
    "grant", [{"grant_type": "password"}, {}], ids=["password grant", "no grant"]
)
async def test_a_well_formed_token_request_still_signs_in(
    client: httpx.AsyncClient, alice: Account, grant: dict[str, str]
) -> None:
    data = {**grant, "username": alice.email, "password": PASSWORD}
    response = await client.post(f"{API}/auth/token", data=data)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"
