"""Kept seller searches (decision 190): a repeated search is answered from the worker's memory,
and never after a committed change to the catalogue it shows, whoever made it."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from parley.db import fast
from tests.conftest import Account, make_client, sign_up
from tests.e2e.catalog_helpers import API, create_seller, new_chat_session


async def search(
    http: httpx.AsyncClient, account: Account, q: str, url: str = f"{API}/sellers"
) -> list[str]:
    response = await http.get(url, params={"q": q, "limit": 5}, headers=account.headers)
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["data"]["items"]]


@contextmanager
def lean_statements() -> Iterator[list[str]]:
    sent: list[str] = []
    observe: Callable[[str, list[Any]], None] = lambda sql, _args: sent.append(sql)  # noqa: E731
    fast.statement_observers.append(observe)
    try:
        yield sent
    finally:
        fast.statement_observers.remove(observe)


async def test_a_repeated_search_reads_only_the_catalogues_version(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "Mocha One")
    first = await client.get(f"{API}/sellers", params={"q": "mocha"}, headers=alice.headers)
    with lean_statements() as sent:
        again = await client.get(f"{API}/sellers", params={"q": "mocha"}, headers=alice.headers)

    assert again.content == first.content
    assert len(sent) == 1 and "catalog_versions" in sent[0], sent


async def test_a_kept_search_shows_every_change_to_the_catalogue(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    other = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "Mocha One")
    assert await search(client, alice, "mocha") == ["Mocha One"]

    created = await create_seller(client, alice, other, "Mocha Two")
    assert await search(client, alice, "mocha") == ["Mocha Two", "Mocha One"]

    url = f"{API}/sellers/{created['id']}"
    renamed = await client.patch(url, json={"name": "Latte"}, headers=alice.headers)
    assert renamed.status_code == 200, renamed.text
    assert await search(client, alice, "mocha") == ["Mocha One"]

    await client.patch(url, json={"product": "Mocha beans"}, headers=alice.headers)
    assert await search(client, alice, "mocha") == ["Mocha One", "Latte"]

    assert (await client.delete(url, headers=alice.headers)).status_code == 200
    assert await search(client, alice, "mocha") == ["Mocha One"]

    in_session = f"{API}/sessions/{sid}/sellers"
    assert await search(client, alice, "mocha", in_session) == ["Mocha One"]
    assert (await client.delete(f"{API}/sessions/{sid}", headers=alice.headers)).status_code == 200
    assert await search(client, alice, "mocha") == []
    gone = await client.get(in_session, params={"q": "mocha", "limit": 5}, headers=alice.headers)
    assert gone.status_code == 404


async def test_a_search_is_kept_for_its_viewer_alone(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    sid = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "Mocha One")
    url = f"{API}/sessions/{sid}/sellers"
    assert await search(client, alice, "mocha", url) == ["Mocha One"]
    response = await client.get(url, params={"q": "mocha", "limit": 5}, headers=bob.headers)
    assert response.status_code == 404
    assert await search(client, bob, "mocha") == []


async def test_a_write_outside_the_api_reaches_a_kept_search(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    seller = await create_seller(client, alice, sid, "Mocha One")
    assert await search(client, alice, "mocha") == ["Mocha One"]
    # As an operator's script or a migration would: the database's triggers count it too.
    async with app.state.resources.database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE sellers SET name_key = 'latte', name = 'Latte' WHERE name = 'Mocha One'")
        )
    assert seller["name"] == "Mocha One"
    assert await search(client, alice, "mocha") == []


async def test_a_search_kept_by_one_worker_shows_another_workers_write(
    app_factory: Callable[..., Any],
) -> None:
    worker_a: FastAPI = await app_factory()
    worker_b: FastAPI = await app_factory()
    async with make_client(worker_a) as a, make_client(worker_b) as b:
        owner = await sign_up(a)
        sid = await new_chat_session(a, owner)
        await create_seller(a, owner, sid, "Mocha One")
        assert await search(a, owner, "mocha") == ["Mocha One"]
        assert await search(b, owner, "mocha") == ["Mocha One"]
        await create_seller(b, owner, sid, "Mocha Two")
        assert await search(a, owner, "mocha") == ["Mocha Two", "Mocha One"]
