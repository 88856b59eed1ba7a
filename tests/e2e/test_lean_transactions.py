"""The lean path's transactions (decisions 183, 189): `transaction` commits what its work wrote
or rolls all of it back, and neither it nor `reading` hands a connection back to the pool
inside a transaction."""

import asyncio
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from parley.db import fast
from parley.db.engine import Database
from parley.db.fast import Driver, compiled, reading, transaction
from parley.db.session import begin_write
from tests.conftest import Account
from tests.e2e.chat_helpers import API, new_session


async def _rename(conn: Driver, session_id: str, title: str) -> None:
    statement = compiled(
        ("test", "rename"),
        conn.dialect,
        lambda: text("UPDATE chat_sessions SET title = :title WHERE id = :id"),
    )
    await conn.fetch(statement, {"title": title, "id": conn.uuid(UUID(session_id))})


async def _title(http: httpx.AsyncClient, owner: Account, session_id: str) -> str:
    response = await http.get(f"{API}/sessions/{session_id}", headers=owner.headers)
    title: str = response.json()["data"]["title"]
    return title


def _in_transaction(conn: Driver) -> bool | None:
    """Whether the driver connection is inside a transaction, where the driver can tell."""
    raw: Any = conn.connection
    if conn.dialect.name == "sqlite":
        return bool(raw.in_transaction)
    if conn.dialect.name == "postgresql":
        return bool(raw.is_in_transaction())
    return None  # MariaDB's driver keeps no such state: its pool reset ends what is open


async def _no_pooled_connection_in_a_transaction(database: Database) -> None:
    # More readers at once than the pool keeps idle: every pooled connection is looked at.
    async with reading(database) as first, reading(database) as second:
        assert _in_transaction(first) in (False, None)
        assert _in_transaction(second) in (False, None)


async def test_a_lean_write_commits_what_its_block_wrote(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    database: Database = app.state.resources.database
    session_id = (await new_session(client, alice, title="Before"))["id"]
    inside: list[bool | None] = []

    async def rename(conn: Driver) -> None:
        await _rename(conn, session_id, "After")
        inside.append(_in_transaction(conn))

    await transaction(database, rename)
    assert inside in ([True], [None])
    assert await _title(client, alice, session_id) == "After"
    await _no_pooled_connection_in_a_transaction(database)


async def test_a_lean_write_that_raises_leaves_nothing_behind(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    database: Database = app.state.resources.database
    session_id = (await new_session(client, alice, title="Before"))["id"]

    async def rename_then_fail(conn: Driver) -> None:
        await _rename(conn, session_id, "Half-way")
        raise RuntimeError("refused half-way")

    with pytest.raises(RuntimeError, match="refused half-way"):
        await transaction(database, rename_then_fail)
    assert await _title(client, alice, session_id) == "Before"
    await _no_pooled_connection_in_a_transaction(database)
    # The writer's turn (SQLite) was given back: the next write goes through.

    async def rename_later(conn: Driver) -> None:
        await _rename(conn, session_id, "Later")

    await transaction(database, rename_later)
    assert await _title(client, alice, session_id) == "Later"


async def test_a_lean_read_whose_statement_fails_gives_its_connection_back(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    database: Database = app.state.resources.database
    broken = compiled(("test", "broken"), database.engine.dialect, lambda: text("SELECT nope"))

    async def read_broken() -> None:
        async with reading(database) as conn:
            await conn.fetch(broken, {})

    for _ in range(3):
        with pytest.raises(Exception, match="nope"):  # each driver's own error names the column
            await read_broken()
    session_id = (await new_session(client, alice, title="Still served"))["id"]
    assert await _title(client, alice, session_id) == "Still served"
    await _no_pooled_connection_in_a_transaction(database)


def _pooled_reads(database: Database) -> None:
    if database.inline_reads is not None:
        pytest.skip("a SQLite file's lean reads run inline and take no turn at the pool")


async def test_lean_reads_waiting_for_the_pool_are_served_first_come_first_served(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    database: Database = app.state.resources.database
    _pooled_reads(database)
    capacity = database.turns._value  # every turn free: as many as the pool holds
    releases = [asyncio.Event() for _ in range(capacity)]
    served: list[int] = []

    async def hold(release: asyncio.Event) -> None:
        async with reading(database):
            await release.wait()

    async def read(number: int) -> None:
        async with reading(database):
            served.append(number)
            await asyncio.sleep(0)  # hand the loop over while holding the connection

    holders = [asyncio.create_task(hold(release)) for release in releases]
    await _until(lambda: database.turns.locked())
    waiting = []
    for number in range(8):
        waiting.append(asyncio.create_task(read(number)))
        await asyncio.sleep(0)  # each in line before the next arrives
    releases[0].set()  # one turn comes free and goes down the line
    await asyncio.gather(*waiting)
    for release in releases:
        release.set()
    await asyncio.gather(*holders)

    assert served == list(range(8))
    session_id = (await new_session(client, alice, title="Still served"))["id"]
    assert await _title(client, alice, session_id) == "Still served"


async def test_a_lean_read_with_no_turn_at_the_pool_in_time_is_a_503(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    database: Database = app.state.resources.database
    _pooled_reads(database)
    session_id = (await new_session(client, alice, title="Busy"))["id"]
    monkeypatch.setattr(fast, "POOL_TIMEOUT_S", 0.2)
    taken = [database.turns.acquire() for _ in range(database.turns._value)]
    await asyncio.gather(*taken)
    try:
        response = await client.get(f"{API}/sessions/{session_id}", headers=alice.headers)
    finally:
        for _ in taken:
            database.turns.release()

    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert response.json()["status"] == "error"
    assert await _title(client, alice, session_id) == "Busy"


async def test_a_sqlite_read_is_served_while_every_pooled_connection_is_taken(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    database: Database = app.state.resources.database
    if database.inline_reads is None:
        pytest.skip("only a SQLite file's lean reads run inline")
    session_id = (await new_session(client, alice, title="Inline"))["id"]
    monkeypatch.setattr(fast, "POOL_TIMEOUT_S", 0.2)
    taken = [database.turns.acquire() for _ in range(database.turns._value)]
    await asyncio.gather(*taken)
    try:
        assert database.writer is not None
        async with database.writer:  # and the writer turn: nothing else could run
            response = await client.get(f"{API}/sessions/{session_id}", headers=alice.headers)
            page = await client.get(f"{API}/sessions/{session_id}/messages", headers=alice.headers)
    finally:
        for _ in taken:
            database.turns.release()

    assert response.status_code == 200
    assert response.json()["data"]["title"] == "Inline"
    assert page.status_code == 200
    assert page.json()["data"] == {"items": [], "next_cursor": None}


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


def _writer_thread(database: Database) -> None:
    if database.writer_thread is None:
        pytest.skip("only a SQLite file's lean writes run on the writer thread")


async def _held_in_the_thread(
    database: Database,
    session_id: str,
    title: str,
    gate: threading.Event,
    order: list[str],
    started: threading.Event | None = None,
) -> None:
    """A lean write whose transaction waits in the writer thread until `gate` opens."""

    async def rename(conn: Driver) -> None:
        await _rename(conn, session_id, title)
        if started is not None:
            started.set()
        gate.wait(timeout=10)  # blocks the writer thread, never the loop
        order.append(title)

    await transaction(database, rename)


async def test_a_session_waiting_behind_lean_writes_goes_before_later_ones(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    database: Database = app.state.resources.database
    _writer_thread(database)
    session_id = (await new_session(client, alice, title="Before"))["id"]
    gate, started = threading.Event(), threading.Event()
    order: list[str] = []

    async def session_write() -> None:
        async with database.sessions() as db:
            await begin_write(db)
            await db.execute(
                text("UPDATE chat_sessions SET title = 'Session' WHERE id = :id"),
                {"id": UUID(session_id).hex},
            )
            await db.commit()
        order.append("Session")

    first = asyncio.create_task(
        _held_in_the_thread(database, session_id, "First", gate, order, started)
    )
    await _until(started.is_set)  # in its transaction, so it holds the writer turn
    by_session = asyncio.create_task(session_write())
    await asyncio.sleep(0.05)  # the session is in line for the turn
    later = asyncio.create_task(_held_in_the_thread(database, session_id, "Later", gate, order))
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(first, by_session, later)

    assert order == ["First", "Session", "Later"]
    assert await _title(client, alice, session_id) == "Later"


async def test_lean_writes_arriving_together_all_commit_in_order(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    database: Database = app.state.resources.database
    if database.writer is None:
        pytest.skip("only SQLite's writes take turns; elsewhere they run side by side")
    session_id = (await new_session(client, alice, title="Before"))["id"]
    gate = threading.Event()
    gate.set()
    order: list[str] = []
    titles = [f"Title {n}" for n in range(20)]
    await asyncio.gather(
        *(_held_in_the_thread(database, session_id, title, gate, order) for title in titles)
    )

    assert order == titles
    assert await _title(client, alice, session_id) == titles[-1]


async def test_a_cancelled_lean_write_still_ends_before_the_next_one_begins(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    database: Database = app.state.resources.database
    _writer_thread(database)
    session_id = (await new_session(client, alice, title="Before"))["id"]
    gate, started = threading.Event(), threading.Event()
    order: list[str] = []
    held = asyncio.create_task(
        _held_in_the_thread(database, session_id, "Cancelled", gate, order, started)
    )
    await _until(started.is_set)  # its transaction is under way in the writer thread
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    assert database.writer is not None and database.writer.locked()  # the thread still works
    gate.set()
    await _held_in_the_thread(database, session_id, "Next", gate, order)

    assert order == ["Cancelled", "Next"]
    assert await _title(client, alice, session_id) == "Next"


class _Refused(Exception):
    pass


async def test_writes_committed_together_undo_only_the_refused_one(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    database: Database = app.state.resources.database
    _writer_thread(database)
    held_id, kept_id, refused_id, also_kept_id = [
        (await new_session(client, alice, title="Before"))["id"] for _ in range(4)
    ]
    gate, started = threading.Event(), threading.Event()
    order: list[str] = []

    async def rename_then_refuse(conn: Driver) -> None:
        await _rename(conn, refused_id, "Refused")
        raise _Refused

    async def rename(session_id: str, title: str) -> None:
        await transaction(database, lambda conn: _rename(conn, session_id, title))

    # The writer thread is held, so the next three queue and commit as one group.
    held = asyncio.create_task(_held_in_the_thread(database, held_id, "Held", gate, order, started))
    await _until(started.is_set)
    kept = asyncio.create_task(rename(kept_id, "Kept"))
    refused = asyncio.create_task(transaction(database, rename_then_refuse))
    also_kept = asyncio.create_task(rename(also_kept_id, "Also kept"))
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(held, kept, also_kept)
    with pytest.raises(_Refused):
        await refused

    assert await _title(client, alice, held_id) == "Held"
    assert await _title(client, alice, kept_id) == "Kept"
    assert await _title(client, alice, refused_id) == "Before"
    assert await _title(client, alice, also_kept_id) == "Also kept"
