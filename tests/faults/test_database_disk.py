"""A SQLite database whose disk fills up under concurrent text posts (a small tmpfs, as root):
each post is a 201 whose message is kept, or a 503 with Retry-After and nothing kept, also
when posts that queued together commit together (decision 193)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from parley.db.base import Base
from parley.db.engine import create_database
from tests.conftest import assert_unavailable, make_client, sign_up
from tests.e2e.chat_helpers import API, collect, new_session
from tests.support.disks import fill, small_tmpfs

DISK_SIZE = "4m"


@pytest.fixture
async def database_on_a_small_disk(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A SQLite file with the tables, alone on a tmpfs of its own, unmounted afterwards."""
    with small_tmpfs(tmp_path / "database", DISK_SIZE) as disk:
        url = f"sqlite:///{disk / 'parley.db'}"
        database = create_database(url)
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await database.dispose()
        yield url, disk


async def test_posts_on_a_full_database_disk_are_kept_or_refused_never_lost(
    app_factory: Callable[..., Any], database_on_a_small_disk: tuple[str, Path]
) -> None:
    url, disk = database_on_a_small_disk
    application = await app_factory(database_url=url)
    async with make_client(application) as http:
        owner = await sign_up(http)
        session_id = (await new_session(http, owner))["id"]
        filler = fill(disk)
        posts = await asyncio.gather(
            *(
                http.post(
                    f"{API}/sessions/{session_id}/messages",
                    json={"content": f"message {n} " + "x" * 2000},
                    headers=owner.headers,
                )
                for n in range(40)
            )
        )
        filler.unlink()
        kept = await collect(http, owner, f"/sessions/{session_id}/messages")
        after = await http.post(
            f"{API}/sessions/{session_id}/messages",
            json={"content": "after"},
            headers=owner.headers,
        )

    refused = [p for p in posts if p.status_code != 201]
    for response in refused:
        assert_unavailable(response)
    assert refused, "the disk never filled: the test wrote too little"
    confirmed = [p.json()["data"] for p in posts if p.status_code == 201]
    assert {m["id"] for m in kept} == {m["id"] for m in confirmed}
    assert [m["seq"] for m in kept] == list(range(1, len(kept) + 1))
    assert after.status_code == 201, after.text
