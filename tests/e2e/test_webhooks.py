"""Webhooks as their owner manages them: registration, validation, the per-user limit,
ownership, secrets (shown once, kept encrypted) and their rotation."""

import asyncio
import base64
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from parley.models.webhook import Webhook
from parley.webhooks import network
from tests.conftest import Account, assert_error, make_admin, make_client, sign_up

API = "/api/v1"
HOOK = "http://127.0.0.1:9/hook"
MISSING = "0190a0b0-0000-7000-8000-000000000000"


@pytest.fixture
async def app(app_factory: Callable[..., Any]) -> FastAPI:
    # Loopback receivers: the address guard is off here and on in the guard tests below.
    application: FastAPI = await app_factory(webhook_allow_private=True)
    return application


async def create_webhook(
    http: httpx.AsyncClient, owner: Account, url: str = HOOK, **fields: Any
) -> dict[str, Any]:
    body = {"url": url, "events": ["*"], **fields}
    response = await http.post(f"{API}/webhooks", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_creating_a_webhook_shows_its_secret_once(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create_webhook(
        client, alice, events=["message.created", "seller.updated"], description=" Orders "
    )
    assert set(created) == {
        "id", "url", "events", "description", "is_active", "disabled_reason",
        "created_at", "updated_at", "secret",
    }  # fmt: skip
    assert created["url"] == HOOK
    assert created["events"] == ["message.created", "seller.updated"]
    assert created["description"] == "Orders"
    assert created["is_active"] is True and created["disabled_reason"] is None
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"), validate=True)) == 32

    read = await client.get(f"{API}/webhooks/{created['id']}", headers=alice.headers)
    assert read.status_code == 200
    assert "secret" not in read.json()["data"]
    assert read.json()["data"] == {k: v for k, v in created.items() if k != "secret"}


async def test_secrets_differ_and_are_kept_encrypted(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    first = await create_webhook(client, alice)
    second = await create_webhook(client, alice)
    assert first["secret"] != second["secret"]
    async with app.state.resources.database.sessions() as db:
        stored = (await db.execute(select(Webhook.secret))).scalars().all()
    assert len(stored) == 2
    for value in stored:
        assert "whsec_" not in value
        assert first["secret"].removeprefix("whsec_") not in value
        assert second["secret"].removeprefix("whsec_") not in value


async def test_the_list_is_the_callers_own_newest_first_in_pages(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    ids = [(await create_webhook(client, alice))["id"] for _ in range(5)]
    await create_webhook(client, bob)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"{API}/webhooks", params=params, headers=alice.headers)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["data"]["items"]]
        assert all("secret" not in item for item in page.json()["data"]["items"])
        cursor = page.json()["data"]["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    tampered = await client.get(
        f"{API}/webhooks", params={"cursor": "bm9wZQ.bm9wZQ"}, headers=alice.headers
    )
    assert_error(tampered, 400, "bad_request")


async def test_another_users_webhook_is_404_to_every_route(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    hook = await create_webhook(client, alice)
    url = f"{API}/webhooks/{hook['id']}"
    assert_error(await client.get(url, headers=bob.headers), 404, "not_found")
    assert_error(
        await client.patch(url, json={"description": "x"}, headers=bob.headers), 404, "not_found"
    )
    assert_error(await client.delete(url, headers=bob.headers), 404, "not_found")
    assert_error(await client.post(f"{url}/rotate-secret", headers=bob.headers), 404, "not_found")
    assert_error(
        await client.get(f"{API}/webhooks/{MISSING}", headers=alice.headers), 404, "not_found"
    )
    assert (await client.get(url, headers=alice.headers)).json()["data"]["description"] is None


async def test_an_admin_reads_but_does_not_change_another_users_webhook(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    admin = await make_admin(app, client)
    hook = await create_webhook(client, alice)
    url = f"{API}/webhooks/{hook['id']}"
    read = await client.get(url, headers=admin.headers)
    assert read.status_code == 200 and read.json()["data"]["id"] == hook["id"]
    assert_error(
        await client.patch(url, json={"is_active": False}, headers=admin.headers),
        404,
        "not_found",
    )
    listed = await client.get(f"{API}/webhooks", headers=admin.headers)
    assert listed.json()["data"]["items"] == []


async def test_patch_changes_only_what_it_names(client: httpx.AsyncClient, alice: Account) -> None:
    hook = await create_webhook(client, alice, description="Orders")
    url = f"{API}/webhooks/{hook['id']}"
    changed = await client.patch(
        url,
        json={"events": ["vendor.created"], "url": "https://127.0.0.1/x"},
        headers=alice.headers,
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["events"] == ["vendor.created"]
    assert data["url"] == "https://127.0.0.1/x"
    assert data["description"] == "Orders"
    assert data["updated_at"] >= hook["updated_at"]
    cleared = await client.patch(url, json={"description": None}, headers=alice.headers)
    assert cleared.json()["data"]["description"] is None
    disabled = await client.patch(url, json={"is_active": False}, headers=alice.headers)
    assert disabled.json()["data"]["is_active"] is False
    assert disabled.json()["data"]["disabled_reason"] is None
    for body in ({"url": None}, {"events": None}, {"is_active": None}, {"secret": "x"}):
        assert_error(
            await client.patch(url, json=body, headers=alice.headers), 422, "validation_error"
        )


async def test_deleting_a_webhook_removes_it(client: httpx.AsyncClient, alice: Account) -> None:
    hook = await create_webhook(client, alice)
    url = f"{API}/webhooks/{hook['id']}"
    deleted = await client.delete(url, headers=alice.headers)
    assert deleted.status_code == 200 and deleted.json()["data"] is None
    assert_error(await client.get(url, headers=alice.headers), 404, "not_found")
    assert_error(await client.delete(url, headers=alice.headers), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://127.0.0.1/x", "events": ["*"]}, "body.url"),
        ({"url": "127.0.0.1/x", "events": ["*"]}, "body.url"),
        ({"url": "http://user:pw@127.0.0.1/x", "events": ["*"]}, "body.url"),
        ({"url": "http://user@127.0.0.1/x", "events": ["*"]}, "body.url"),
        ({"url": "http://127.0.0.1/" + "a" * 2040, "events": ["*"]}, "body.url"),
        ({"url": "http:///x", "events": ["*"]}, "body.url"),
        ({"url": "http://127.0.0.1:99999/", "events": ["*"]}, "body.url"),
        ({"url": HOOK, "events": []}, "body.events"),
        ({"url": HOOK, "events": ["message.sent"]}, "body.events"),
        ({"url": HOOK, "events": ["*", "message.created"]}, "body.events"),
        ({"url": HOOK, "events": "*"}, "body.events"),
        ({"url": HOOK}, "body.events"),
        ({"events": ["*"]}, "body.url"),
        ({"url": HOOK, "events": ["*"], "description": "x" * 501}, "body.description"),
        ({"url": HOOK, "events": ["*"], "is_active": False}, "body.is_active"),
    ],
)
async def test_invalid_webhooks_are_422_naming_the_field(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{API}/webhooks", json=body, headers=alice.headers)
    error = assert_error(response, 422, "validation_error")
    assert any(d["field"].startswith(field) for d in error["error"]["details"]), error
    assert "user:pw" not in response.text


async def test_a_url_of_exactly_2048_characters_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url = "http://127.0.0.1/" + "a" * (2048 - len("http://127.0.0.1/"))
    assert (await create_webhook(client, alice, url=url))["url"] == url


async def test_repeated_event_types_are_kept_once(
    client: httpx.AsyncClient, alice: Account
) -> None:
    hook = await create_webhook(
        client, alice, events=["seller.created", "seller.created", "message.created"]
    )
    assert hook["events"] == ["seller.created", "message.created"]


async def test_a_user_has_at_most_20_webhooks(client: httpx.AsyncClient, alice: Account) -> None:
    hooks = [await create_webhook(client, alice) for _ in range(20)]
    refused = await client.post(
        f"{API}/webhooks", json={"url": HOOK, "events": ["*"]}, headers=alice.headers
    )
    assert_error(refused, 409, "conflict")
    other = await sign_up(client)
    await create_webhook(client, other)  # the limit is per user
    await client.delete(f"{API}/webhooks/{hooks[0]['id']}", headers=alice.headers)
    await create_webhook(client, alice)


async def test_concurrent_creations_never_pass_the_limit(app: FastAPI, alice: Account) -> None:
    async def create(http: httpx.AsyncClient) -> int:
        body = {"url": HOOK, "events": ["*"]}
        return (await http.post(f"{API}/webhooks", json=body, headers=alice.headers)).status_code

    clients = [make_client(app) for _ in range(24)]
    try:
        statuses = await asyncio.gather(*(create(http) for http in clients))
    finally:
        for http in clients:
            await http.aclose()
    assert sorted(statuses) == [201] * 20 + [409] * 4


async def test_rotating_the_secret_returns_a_new_one(
    client: httpx.AsyncClient, alice: Account
) -> None:
    hook = await create_webhook(client, alice)
    rotated = await client.post(f"{API}/webhooks/{hook['id']}/rotate-secret", headers=alice.headers)
    assert rotated.status_code == 200, rotated.text
    secret = rotated.json()["data"]["secret"]
    assert secret.startswith("whsec_") and secret != hook["secret"]
    assert set(rotated.json()["data"]) == {"secret"}


# The address guard -----------------------------------------------------------------------------


@pytest.fixture
async def guarded(app_factory: Callable[..., Any]) -> httpx.AsyncClient:
    application: FastAPI = await app_factory(webhook_allow_private=False)
    return make_client(application)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The outside world's DNS, for names of our choosing; every other name resolves for real."""
    answers: dict[str, list[str]] = {}
    real = network.resolve_host

    async def resolve(host: str, port: int) -> list[network.IPAddress]:
        if host in answers:
            if not answers[host]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [ipaddress.ip_address(a) for a in answers[host]]
        return await real(host, port)

    monkeypatch.setattr(network, "resolve_host", resolve)
    return answers


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.8.9.10:8080/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
    ],
)
async def test_urls_reaching_private_addresses_are_refused(
    guarded: httpx.AsyncClient, url: str
) -> None:
    async with guarded as http:
        owner = await sign_up(http)
        response = await http.post(
            f"{API}/webhooks", json={"url": url, "events": ["*"]}, headers=owner.headers
        )
    error = assert_error(response, 422, "validation_error")
    assert error["error"]["details"][0]["field"] == "body.url"


async def test_a_name_resolving_to_any_private_address_is_refused(
    guarded: httpx.AsyncClient, dns: dict[str, list[str]]
) -> None:
    dns["hooks.example.com"] = ["93.184.215.14", "10.0.0.8"]
    dns["nowhere.example.com"] = []
    dns["shop.example.com"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    async with guarded as http:
        owner = await sign_up(http)

        async def create(url: str) -> httpx.Response:
            body = {"url": url, "events": ["*"]}
            return await http.post(f"{API}/webhooks", json=body, headers=owner.headers)

        assert_error(await create("https://hooks.example.com/in"), 422, "validation_error")
        assert_error(await create("https://nowhere.example.com/in"), 422, "validation_error")
        assert (await create("https://shop.example.com/in")).status_code == 201
        assert (await create("http://93.184.215.14:8443/in")).status_code == 201
        hook = (await create("https://shop.example.com/2")).json()["data"]
        moved = await http.patch(
            f"{API}/webhooks/{hook['id']}",
            json={"url": "http://192.168.0.10/in"},
            headers=owner.headers,
        )
        assert_error(moved, 422, "validation_error")
