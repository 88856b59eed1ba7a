"""Event ids grow with commit order on every database: while many writers commit events
concurrently, a reader polling the feed never sees an id appear below one it has already seen
(decision 111)."""

import anyio
import httpx

from tests.conftest import Account
from tests.e2e.chat_helpers import API, new_session

WRITERS = 6
WRITES_EACH = 20


async def _all_ids(http: httpx.AsyncClient, owner: Account) -> list[str]:
    ids: list[str] = []
    cursor = "0"
    while True:
        response = await http.get(
            f"{API}/events", params={"cursor": cursor, "limit": 100}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        page = response.json()["data"]
        ids.extend(item["id"] for item in page["items"])
        if page["next_cursor"] is None:
            return ids
        cursor = page["next_cursor"]


async def test_no_event_id_ever_appears_below_one_already_read(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sessions = [(await new_session(client, alice, title=f"S{i}"))["id"] for i in range(WRITERS)]
    baseline = await _all_ids(client, alice)
    done = anyio.Event()
    violations: list[tuple[str, str]] = []
    polls = 0

    async def write(index: int) -> None:
        sid = sessions[index]
        for n in range(WRITES_EACH):
            if n % 4 == 3:  # an ORM use case among the lean text posts
                response = await client.post(
                    f"{API}/sessions/{sid}/sellers",
                    json={"name": f"Seller {n}", "product": "p"},
                    headers=alice.headers,
                )
            else:
                response = await client.post(
                    f"{API}/sessions/{sid}/messages",
                    json={"content": f"w{index} n{n}"},
                    headers=alice.headers,
                )
            assert response.status_code == 201, response.text

    async def read() -> None:
        nonlocal polls
        seen = set(baseline)
        highest = max(baseline)
        while True:
            finished = done.is_set()  # one more full read after the writers are done
            ids = await _all_ids(client, alice)
            polls += 1
            assert ids == sorted(ids)
            for event_id in ids:
                if event_id not in seen:
                    if event_id < highest:
                        violations.append((event_id, highest))
                    seen.add(event_id)
            highest = max(seen)
            if finished:
                return

    async with anyio.create_task_group() as readers:
        readers.start_soon(read)
        async with anyio.create_task_group() as writers:
            for index in range(WRITERS):
                writers.start_soon(write, index)
        done.set()

    assert violations == []
    assert polls > 1
    final = await _all_ids(client, alice)
    assert len(final) == len(baseline) + WRITERS * WRITES_EACH
