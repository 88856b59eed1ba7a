"""The catalog lists cost a fixed number of queries whatever the page size, and the sellers
listing is an index range scan on the owner. Statements are counted and planned whether they go
through SQLAlchemy or straight to the driver (the lean path, db/fast.py)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from parley.db import fast
from tests.conftest import Account
from tests.e2e.catalog_helpers import API, create_seller, create_vendor, new_chat_session
from tests.support.statements import TRANSACTION

ROWS = 6


@contextmanager
def _capture(app: FastAPI) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the application sends with its parameters, transaction control aside."""
    captured: list[tuple[str, Any]] = []
    engine = app.state.resources.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION):
            captured.append((statement, parameters))

    def on_driver(statement: str, args: list[Any]) -> None:
        captured.append((statement, tuple(args)))

    event.listen(engine, "before_cursor_execute", record)
    fast.statement_observers.append(on_driver)
    try:
        yield captured
    finally:
        fast.statement_observers.remove(on_driver)
        event.remove(engine, "before_cursor_execute", record)


async def _statement_counts(
    app: FastAPI, http: httpx.AsyncClient, account: Account, url: str, **params: Any
) -> list[int]:
    counts = []
    for limit in [1, ROWS]:
        with _capture(app) as statements:
            response = await http.get(
                url, params={"limit": limit, **params}, headers=account.headers
            )
        assert response.status_code == 200, response.text
        assert len(response.json()["data"]["items"]) == min(limit, ROWS)
        counts.append(len(statements))
    return counts


async def test_listing_vendors_costs_the_same_queries_for_any_page_size(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    for i in range(ROWS):
        await create_vendor(client, alice, await new_chat_session(client, alice), name=f"V{i}")
    small, large = await _statement_counts(app, client, alice, f"{API}/vendors")
    assert small == large
    assert large <= 3
    small_q, large_q = await _statement_counts(app, client, alice, f"{API}/vendors", q="v")
    assert small_q == large_q


@pytest.mark.parametrize("q", [None, "seller"])
async def test_listing_sellers_costs_the_same_queries_for_any_page_size(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, q: str | None
) -> None:
    sid = await new_chat_session(client, alice)
    for i in range(ROWS):
        await create_seller(client, alice, sid, f"Seller {i}")
    params = {"q": q} if q else {}
    for url in [f"{API}/sellers", f"{API}/sessions/{sid}/sellers"]:
        small, large = await _statement_counts(app, client, alice, url, **params)
        assert small == large
        assert large <= 4


async def _plan(app: FastAPI, statement: str, parameters: Any) -> str:
    engine = app.state.resources.database.engine
    async with engine.connect() as connection:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            result = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        else:
            if dialect == "postgresql":
                # A handful of rows fit one page, where a scan is cheaper; ask about the index.
                await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            result = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        rows = [" ".join(str(value) for value in row) for row in result]
        await connection.rollback()
    return "\n".join(rows)


async def test_the_sellers_listing_scans_the_owner_index(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    for owner in [alice, bob]:
        sid = await new_chat_session(client, owner)
        for i in range(ROWS):
            await create_seller(client, owner, sid, f"Seller {i}")
    with _capture(app) as captured:
        first = await client.get(f"{API}/sellers", params={"limit": 2}, headers=alice.headers)
        cursor = first.json()["data"]["next_cursor"]
        await client.get(f"{API}/sellers", params={"cursor": cursor}, headers=alice.headers)
    listings = [(s, p) for s, p in captured if "FROM sellers" in s and "ORDER BY" in s]
    assert len(listings) == 2
    for statement, parameters in listings:
        plan = await _plan(app, statement, parameters)
        assert "ix_sellers_user_id_id" in plan, plan


async def _search_plans(
    app: FastAPI, client: httpx.AsyncClient, account: Account, q: str
) -> list[str]:
    with _capture(app) as captured:
        response = await client.get(f"{API}/sellers", params={"q": q}, headers=account.headers)
        assert response.status_code == 200, response.text
    searches = [(s, p) for s, p in captured if "FROM sellers" in s and "ORDER BY" in s]
    assert len(searches) == 1
    return [await _plan(app, statement, parameters) for statement, parameters in searches]


async def test_seller_search_reads_the_search_structure(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    admin: Account,
    dialect: str,
) -> None:
    for owner in [alice, bob]:
        sid = await new_chat_session(client, owner)
        for i in range(ROWS):
            await create_seller(client, owner, sid, f"Seller {i}", description=f"Organic {i}")
    if dialect == "sqlite":
        [plan] = await _search_plans(app, client, alice, "ORGANIC")
        assert "VIRTUAL TABLE INDEX" in plan and "sellers_search" in plan, plan
    elif dialect == "postgresql":
        # On a handful of rows the owner index is rightly cheaper; an admin's search has none.
        [plan] = await _search_plans(app, client, admin, "ORGANIC")
        assert "_trgm" in plan, plan
    else:
        # MariaDB indexes no substrings: the scan stays within the owner's rows.
        [plan] = await _search_plans(app, client, alice, "ORGANIC")
        assert "ix_sellers_user_id_id" in plan, plan


async def test_a_short_seller_search_scans_only_the_owners_rows(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    for owner in [alice, bob]:
        sid = await new_chat_session(client, owner)
        for i in range(ROWS):
            await create_seller(client, owner, sid, f"Seller {i}")
    for plan in await _search_plans(app, client, alice, "É"):
        assert "ix_sellers_user_id_id" in plan, plan
