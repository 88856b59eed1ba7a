"""Every committed change of a chat session, its messages, vendor or sellers is one event in
the log, written in the change's own transaction: its data is the resource as its GET route
answers it, and a change that does not commit leaves no event."""

import json
from typing import Any
from uuid import UUID

import anyio
import httpx
from fastapi import FastAPI

from parley.events.repository import EventRepository
from tests.conftest import Account
from tests.e2e.catalog_helpers import create_seller, create_vendor
from tests.e2e.chat_helpers import API, PNG, new_session, post_text, upload


async def logged(app: FastAPI, owner: Account) -> list[dict[str, Any]]:
    """The owner's events as the log holds them, oldest first."""
    async with app.state.resources.database.sessions() as db:
        rows = await EventRepository(db).page(user_id=UUID(owner.id), after=0, limit=1000)
    return [
        {"id": r.id, "type": r.type, "session_id": str(r.session_id), "data": json.loads(r.data)}
        for r in rows
    ]


async def _get(http: httpx.AsyncClient, owner: Account, path: str) -> dict[str, Any]:
    response = await http.get(f"{API}{path}", headers=owner.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_each_change_is_one_event_carrying_what_its_get_route_answers(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    created = await new_session(client, alice, title=None)
    sid = created["id"]
    expected: list[tuple[str, dict[str, Any]]] = [("session.created", created)]

    text = await post_text(client, alice, sid, "Hello there")  # the lean path
    assert text == await _get(client, alice, f"/messages/{text['id']}")
    expected.append(("message.created", text))

    media = await upload(client, alice, sid, PNG, filename="a.png", content="A caption")
    assert media.status_code == 201, media.text
    expected.append(
        ("message.created", await _get(client, alice, f"/messages/{media.json()['data']['id']}"))
    )

    renamed = await client.patch(
        f"{API}/sessions/{sid}", json={"title": "Renamed"}, headers=alice.headers
    )
    assert renamed.status_code == 200
    expected.append(("session.updated", await _get(client, alice, f"/sessions/{sid}")))

    vendor = await create_vendor(client, alice, sid)
    assert vendor == await _get(client, alice, f"/sessions/{sid}/vendor")
    expected.append(("vendor.created", vendor))
    patched = await client.patch(
        f"{API}/sessions/{sid}/vendor", json={"name": "Other name"}, headers=alice.headers
    )
    assert patched.status_code == 200
    expected.append(("vendor.updated", await _get(client, alice, f"/sessions/{sid}/vendor")))

    seller = await create_seller(client, alice, sid, "Beans & Co", description="Fresh")
    expected.append(("seller.created", await _get(client, alice, f"/sellers/{seller['id']}")))
    updated = await client.patch(
        f"{API}/sellers/{seller['id']}", json={"product": "Tea"}, headers=alice.headers
    )
    assert updated.status_code == 200
    expected.append(("seller.updated", await _get(client, alice, f"/sellers/{seller['id']}")))

    for path, type_, resource_id in [
        (f"/sellers/{seller['id']}", "seller.deleted", seller["id"]),
        (f"/sessions/{sid}/vendor", "vendor.deleted", vendor["id"]),
        (f"/messages/{text['id']}", "message.deleted", text["id"]),
    ]:
        response = await client.delete(f"{API}{path}", headers=alice.headers)
        assert response.status_code == 200, response.text
        expected.append((type_, {"id": resource_id, "session_id": sid}))

    events = await logged(app, alice)
    assert [(e["type"], e["data"]) for e in events] == expected
    assert all(e["session_id"] == sid for e in events)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_deleting_a_session_is_one_event(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    await post_text(client, alice, sid)
    await create_vendor(client, alice, sid)
    await create_seller(client, alice, sid, "Seller")
    before = len(await logged(app, alice))
    response = await client.delete(f"{API}/sessions/{sid}", headers=alice.headers)
    assert response.status_code == 200
    after = await logged(app, alice)
    assert [(e["type"], e["data"]) for e in after[before:]] == [
        ("session.deleted", {"id": sid, "session_id": sid})
    ]


async def test_a_user_has_only_the_events_of_their_own_sessions(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    await post_text(client, alice, sid)
    # An admin may read alice's session but not write to it: nothing is logged for anyone.
    refused = await client.post(
        f"{API}/sessions/{sid}/messages", json={"content": "no"}, headers=admin.headers
    )
    assert refused.status_code == 403
    assert len(await logged(app, alice)) == 2
    assert await logged(app, bob) == []


async def test_a_change_that_does_not_commit_leaves_no_event(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    await create_seller(client, alice, sid, "Taken")
    await create_vendor(client, alice, sid)
    start = len(await logged(app, alice))
    attempts = [
        # refused before any write
        client.post(f"{API}/sessions/{sid}/messages", json={"content": "x"}, headers=bob.headers),
        client.post(
            f"{API}/sessions/{sid}/vendor",
            json={"name": "Second", "phone_number": "+14155552671"},
            headers=alice.headers,
        ),
        # refused by the database's unique constraint, after the session row was claimed
        client.post(
            f"{API}/sessions/{sid}/sellers",
            json={"name": "TAKEN", "product": "p"},
            headers=alice.headers,
        ),
        upload(client, alice, sid, b"not a known file type", filename="x.bin"),
        client.delete(
            f"{API}/messages/0190a0b0-0000-7000-8000-000000000000", headers=alice.headers
        ),
    ]
    statuses = [(await attempt).status_code for attempt in attempts]
    assert statuses == [404, 409, 409, 415, 404]
    assert len(await logged(app, alice)) == start


async def test_racing_writes_log_exactly_the_changes_that_committed(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    statuses: list[int] = []

    async def create(name: str) -> None:
        response = await client.post(
            f"{API}/sessions/{sid}/sellers",
            json={"name": name, "product": "p"},
            headers=alice.headers,
        )
        statuses.append(response.status_code)

    async with anyio.create_task_group() as tasks:
        for i in range(12):
            tasks.start_soon(create, "Same name" if i % 2 else f"Name {i}")
    sellers = [e for e in await logged(app, alice) if e["type"] == "seller.created"]
    assert len(sellers) == statuses.count(201)
    assert statuses.count(201) == 7 and statuses.count(409) == 5
