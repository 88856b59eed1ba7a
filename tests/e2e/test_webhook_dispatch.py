"""The dispatcher: every committed event becomes exactly one delivery per matching webhook,
however many dispatchers run at once, and webhooks get only what follows their creation."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from parley.db.engine import create_database
from parley.models.webhook import WebhookDelivery
from parley.webhooks.dispatch import dispatch_events
from tests.conftest import Account
from tests.e2e.chat_helpers import new_session, post_text
from tests.support.webhook_receiver import Receiver, eventually

API = "/api/v1"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = await Receiver().start()
    yield running
    await running.stop()


@pytest.fixture
async def app(app_factory: Callable[..., Any]) -> FastAPI:
    application: FastAPI = await app_factory(webhook_allow_private=True)
    return application


async def _hook(http: httpx.AsyncClient, owner: Account, url: str, events: list[str]) -> str:
    body = {"url": url, "events": events}
    response = await http.post(f"{API}/webhooks", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def test_concurrent_dispatchers_make_each_delivery_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, receiver: Receiver, schema: str
) -> None:
    await _hook(client, alice, receiver.url("/a"), ["*"])
    await _hook(client, alice, receiver.url("/b"), ["message.created"])
    session = await new_session(client, alice)
    others = [create_database(schema) for _ in range(3)]
    try:

        async def post_all() -> None:
            for n in range(20):
                await post_text(client, alice, session["id"], f"Order {n}")

        async def dispatch_all(database: Any) -> None:
            for _ in range(10):
                await dispatch_events(database, batch=3)
                await asyncio.sleep(0.01)

        await asyncio.gather(post_all(), *(dispatch_all(d) for d in others))
    finally:
        for database in others:
            await database.dispose()

    await eventually(lambda: len(receiver.received) >= 41)
    async with app.state.resources.database.sessions() as db:
        pairs = (
            await db.execute(
                select(WebhookDelivery.webhook_id, WebhookDelivery.event_id, func.count()).group_by(
                    WebhookDelivery.webhook_id, WebhookDelivery.event_id
                )
            )
        ).all()
    assert len(pairs) == 41 and all(count == 1 for *_pair, count in pairs)
    seen = Counter((r.path, r.headers["webhook-id"]) for r in receiver.received)
    assert len(seen) == 41 and set(seen.values()) == {1}
    assert Counter(path for path, _ in seen) == {"/a": 21, "/b": 20}


async def test_a_webhook_gets_only_the_events_after_its_creation(
    client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    earlier = await new_session(client, alice, "Before")
    hook = await _hook(client, alice, receiver.url(), ["session.created"])
    later = await new_session(client, alice, "After")
    log_url = f"{API}/webhooks/{hook}/deliveries"

    async def delivered() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await client.get(log_url, headers=alice.headers)).json()[
            "data"
        ]["items"]
        return [d for d in items if d["status"] == "succeeded"]

    await eventually(delivered)
    assert [r.event["session_id"] for r in receiver.received] == [later["id"]]
    assert earlier["id"] != later["id"]
