"""Idempotency-Key on POSTs: stored, replayed, refused when reused or in progress, per user."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from parley.core.clock import utcnow
from parley.db.uow import UnitOfWork
from parley.idempotency.edge import _fingerprint
from parley.models.jobs import IdempotencyRecord
from tests.conftest import Account, assert_error, make_client, sign_up
from tests.e2e.chat_helpers import PNG, new_session
from tests.support.polling import eventually

API = "/api/v1"


def _keyed(account: Account, key: str) -> dict[str, str]:
    return {**account.headers, "Idempotency-Key": key}


async def _titles(client: httpx.AsyncClient, account: Account) -> list[str]:
    response = await client.get(f"{API}/sessions", headers=account.headers)
    return [item["title"] for item in response.json()["data"]["items"]]


async def test_a_repeat_gets_the_first_answer_again_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await client.post(
        f"{API}/sessions", json={"title": "Once"}, headers=_keyed(alice, "order-1")
    )
    again = await client.post(
        f"{API}/sessions", json={"title": "Once"}, headers=_keyed(alice, "order-1")
    )

    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert await _titles(client, alice) == ["Once"]


async def test_the_same_key_with_another_body_or_path_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await client.post(f"{API}/sessions", json={"title": "A"}, headers=_keyed(alice, "k"))
    other_body = await client.post(
        f"{API}/sessions", json={"title": "B"}, headers=_keyed(alice, "k")
    )
    session = await new_session(client, alice)
    other_path = await client.post(
        f"{API}/sessions/{session['id']}/messages",
        json={"content": "hi"},
        headers=_keyed(alice, "k"),
    )

    assert_error(other_body, 422, "idempotency_key_reused")
    assert_error(other_path, 422, "idempotency_key_reused")
    assert len(await _titles(client, alice)) == 2  # "A" and the one made to post into


async def test_another_users_key_never_replays(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    mine = await client.post(f"{API}/sessions", json={"title": "x"}, headers=_keyed(alice, "s"))
    theirs = await client.post(f"{API}/sessions", json={"title": "x"}, headers=_keyed(bob, "s"))

    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["data"]["id"] != mine.json()["data"]["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
async def test_a_key_that_is_not_1_to_255_printable_ascii_is_422(
    client: httpx.AsyncClient, alice: Account, key: str
) -> None:
    headers = [*alice.headers.items(), ("Idempotency-Key", key.encode("latin-1"))]
    response = await client.post(f"{API}/sessions", json={}, headers=headers)

    body = assert_error(response, 422, "validation_error")
    assert body["error"]["details"][0]["field"] == "header.Idempotency-Key"
    assert await _titles(client, alice) == []


async def test_a_repeat_while_the_first_runs_is_409_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    # The first request claimed the key a moment ago and is still running.
    scope = {"method": "POST", "path": f"{API}/sessions", "query_string": b"", "headers": []}
    body = b'{"title":"slow"}'
    async with app.state.resources.database.sessions() as session, UnitOfWork(session) as uow:
        session.add(
            IdempotencyRecord(
                user_id=_uuid(alice.id),
                key="busy",
                fingerprint=_fingerprint(scope, body),
                state="running",
                locked_until=utcnow() + timedelta(minutes=1),
                expires_at=utcnow() + timedelta(days=1),
            )
        )
        await uow.commit()

    response = await client.post(
        f"{API}/sessions",
        content=body,
        headers={**_keyed(alice, "busy"), "Content-Type": "application/json"},
    )

    assert_error(response, 409, "idempotency_in_progress")
    assert response.headers["Retry-After"] == "1"


def _uuid(text: str) -> Any:
    from uuid import UUID

    return UUID(text)


async def test_two_identical_requests_at_once_create_one_session(
    client: httpx.AsyncClient, alice: Account
) -> None:
    async def post() -> httpx.Response:
        return await client.post(
            f"{API}/sessions", json={"title": "twice"}, headers=_keyed(alice, "race")
        )

    responses = await asyncio.gather(*(post() for _ in range(4)))

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1
    created = {r.json()["data"]["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert await _titles(client, alice) == ["twice"]


async def test_an_upload_retried_with_its_key_stores_its_file_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)

    async def send() -> httpx.Response:
        # httpx draws a new multipart boundary for each request, as clients do.
        return await client.post(
            f"{API}/sessions/{session['id']}/messages",
            files={"file": ("a.png", PNG, "image/png")},
            headers=_keyed(alice, "upload-1"),
        )

    first, again = await send(), await send()

    assert first.status_code == 201 and again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(_files(Path(app.state.resources.settings.media_dir))) == 1


def _files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


async def test_an_unauthenticated_post_with_a_key_is_401_and_not_stored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"{API}/sessions", json={}, headers={"Idempotency-Key": "k"})
    assert_error(response, 401, "unauthorized")


async def test_auth_routes_ignore_the_key(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    for _ in range(2):
        response = await client.post(
            f"{API}/auth/login",
            json={"email": account.email, "password": account.password},
            headers={"Idempotency-Key": "login"},
        )
        assert response.status_code == 200 and "idempotent-replayed" not in response.headers


async def test_the_openapi_documents_the_header_on_every_affected_post(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", [])]
            affected = method == "post" and not path.startswith(f"{API}/auth/")
            affected = affected and path.startswith(f"{API}/")
            assert ("Idempotency-Key" in names) == affected, (method, path)
            if affected:
                assert {"409", "422"} <= set(operation["responses"]), path


async def test_an_answer_past_its_time_to_live_is_purged_and_not_replayed(
    app_factory: Callable[..., Any],
) -> None:
    app = await app_factory(idempotency_ttl=1, purge_interval=1)
    async with make_client(app) as http:
        alice = await sign_up(http)
        first = await http.post(f"{API}/sessions", json={}, headers=_keyed(alice, "ttl"))
        database = app.state.resources.database

        async def purged() -> bool:
            async with database.sessions() as session:
                return (await session.scalar(select(IdempotencyRecord.id))) is None

        await eventually(purged, what="the purge of the expired answer")
        again = await http.post(f"{API}/sessions", json={}, headers=_keyed(alice, "ttl"))

    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["data"]["id"] != first.json()["data"]["id"]


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
async def test_a_post_made_with_an_api_key_is_replayed_not_run_twice(
    client: httpx.AsyncClient, alice: Account, header: str
) -> None:
    created = await client.post(
        f"{API}/api-keys", json={"name": "bot", "scope": "write"}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    key = created.json()["data"]["key"]
    credential = {header: f"Bearer {key}" if header == "Authorization" else key}
    headers = {**credential, "Idempotency-Key": f"bot-retry-{header}"}
    first = await client.post(f"{API}/sessions", json={"title": "From a bot"}, headers=headers)
    again = await client.post(f"{API}/sessions", json={"title": "From a bot"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    sessions = await client.get(
        f"{API}/sessions", params={"q": "From a bot"}, headers=alice.headers
    )
    assert len(sessions.json()["data"]["items"]) == 1
