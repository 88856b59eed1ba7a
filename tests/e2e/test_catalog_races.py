"""Concurrent writes to one chat session's vendor and sellers: the database decides, and the
losers get 409, never 500."""

import asyncio

import httpx

from tests.conftest import Account
from tests.e2e.catalog_helpers import API, PHONE, create_seller, new_chat_session, seller_count

RACERS = 6


async def test_racing_vendor_creates_give_one_201_and_the_rest_409(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    responses = await asyncio.gather(
        *[
            client.post(
                f"{API}/sessions/{sid}/vendor",
                json={"name": f"Vendor {i}", "phone_number": PHONE},
                headers=alice.headers,
            )
            for i in range(RACERS)
        ]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (RACERS - 1), [r.text for r in responses]
    winner = next(r.json()["data"] for r in responses if r.status_code == 201)
    current = await client.get(f"{API}/sessions/{sid}/vendor", headers=alice.headers)
    assert current.json()["data"] == winner


async def test_racing_seller_names_differing_in_case_give_one_201_and_the_rest_409(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    spellings = ["Ana", "ANA", "ana", "aNa", " Ana ", "anA"][:RACERS]
    responses = await asyncio.gather(
        *[
            client.post(
                f"{API}/sessions/{sid}/sellers",
                json={"name": name, "product": "Coffee"},
                headers=alice.headers,
            )
            for name in spellings
        ]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (RACERS - 1), [r.text for r in responses]
    assert await seller_count(client, alice, sid) == 1
    listed = await client.get(f"{API}/sessions/{sid}/sellers", headers=alice.headers)
    assert len(listed.json()["data"]["items"]) == 1


async def test_concurrent_seller_creates_and_deletes_keep_the_count_exact(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    doomed = [await create_seller(client, alice, sid, f"Old {i}") for i in range(4)]
    creates = [
        client.post(
            f"{API}/sessions/{sid}/sellers",
            json={"name": f"New {i}", "product": "Tea"},
            headers=alice.headers,
        )
        for i in range(4)
    ]
    # Each old seller is deleted twice at once: one 200, one 404, and it is counted out once.
    deletes = [client.delete(f"{API}/sellers/{s['id']}", headers=alice.headers) for s in doomed * 2]
    responses = await asyncio.gather(*creates, *deletes)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 4 + [201] * 4 + [404] * 4, [r.text for r in responses]
    assert await seller_count(client, alice, sid) == 4
