"""Many clients posting at once, on whichever database the suite runs on: every owner's post is
accepted, kept once, in the order it was acknowledged, and the session's counters and
timestamps agree with that order."""

import asyncio
import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Account, make_client, sign_up
from tests.e2e.chat_helpers import API, collect, new_session

WRITERS = 16
POSTS_PER_WRITER = 12

pytestmark = pytest.mark.slow


def check_session_history(
    session: dict[str, Any], messages: list[dict[str, Any]], acknowledged: list[list[str]]
) -> None:
    """Every acknowledged post once, each writer's in its own order, time never going back."""
    contents = [m["content"] for m in messages]
    assert sorted(contents) == sorted(c for writer in acknowledged for c in writer)
    for writer in acknowledged:
        assert [c for c in contents if c in set(writer)] == writer
    stamps = [datetime.fromisoformat(m["created_at"]) for m in messages]
    backwards = [(a, b) for a, b in itertools.pairwise(stamps) if b < a]
    assert not backwards, f"created_at went back in {len(backwards)} of {len(stamps) - 1} pairs"
    assert session["message_count"] == len(messages)
    assert datetime.fromisoformat(session["last_message_at"]) == stamps[-1]


async def write_all(
    http: httpx.AsyncClient, writers: list[tuple[Account, str]]
) -> tuple[list[list[str]], list[httpx.Response]]:
    """Let every (owner, session) writer post its messages one after another, all at once."""
    acknowledged: list[list[str]] = [[] for _ in writers]
    refused: list[httpx.Response] = []
    start = asyncio.Event()

    async def writer(index: int, owner: Account, sid: str) -> None:
        await start.wait()
        for n in range(POSTS_PER_WRITER):
            content = f"writer {index} post {n}"
            response = await http.post(
                f"{API}/sessions/{sid}/messages", json={"content": content}, headers=owner.headers
            )
            if response.status_code == 201:
                acknowledged[index].append(content)
            else:
                refused.append(response)

    tasks = [asyncio.create_task(writer(i, *w)) for i, w in enumerate(writers)]
    start.set()
    await asyncio.gather(*tasks)
    return acknowledged, refused


@pytest.mark.parametrize("shared", [False, True], ids=["own sessions", "one session"])
async def test_sixteen_writers_posting_at_once_are_all_accepted_in_order(
    app_factory: Callable[..., Any], shared: bool
) -> None:
    application: FastAPI = await app_factory(rate_limit_max=100_000)
    async with make_client(application) as http:
        if shared:
            owner = await sign_up(http)
            writers = [(owner, (await new_session(http, owner, title=None))["id"])] * WRITERS
        else:
            owners = [await sign_up(http) for _ in range(WRITERS)]
            writers = [(o, (await new_session(http, o, title=None))["id"]) for o in owners]

        acknowledged, refused = await write_all(http, writers)

        assert not refused, [(r.status_code, r.text) for r in refused]
        for sid in {sid for _, sid in writers}:
            owner = next(o for o, s in writers if s == sid)
            response = await http.get(f"{API}/sessions/{sid}", headers=owner.headers)
            messages = await collect(http, owner, f"/sessions/{sid}/messages", limit=100)
            mine = [acknowledged[i] for i, (_, s) in enumerate(writers) if s == sid]
            check_session_history(response.json()["data"], messages, mine)
