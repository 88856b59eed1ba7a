"""Webhook deliveries end to end: changes made over HTTP reach a real receiver on loopback,
signed per Standard Webhooks (checked by a verifier written from the specification), retried
on failure as the delivery log shows, retried by hand, pinged, and disabled by a 410."""

import ipaddress
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from parley.core.clock import utcnow
from parley.db.uow import UnitOfWork
from parley.models.webhook import Webhook, WebhookDelivery
from parley.webhooks import network, scheduling
from tests.conftest import Account, assert_error, make_admin, make_client, sign_up
from tests.e2e.chat_helpers import new_session, post_text
from tests.support.webhook_receiver import (
    Receiver,
    Redirect,
    Sleep,
    eventually,
    signatures_valid,
)

API = "/api/v1"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = await Receiver().start()
    yield running
    await running.stop()


@pytest.fixture
async def app(app_factory: Callable[..., Any]) -> FastAPI:
    application: FastAPI = await app_factory(
        webhook_allow_private=True, webhook_retry_schedule="1s,1s,1s", webhook_timeout=1.0
    )
    return application


async def create_webhook(
    http: httpx.AsyncClient, owner: Account, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    body = {"url": url, "events": events or ["*"]}
    response = await http.post(f"{API}/webhooks", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def deliveries(
    http: httpx.AsyncClient, owner: Account, hook_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await http.get(
        f"{API}/webhooks/{hook_id}/deliveries", params=params, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


async def settled(
    http: httpx.AsyncClient, owner: Account, hook_id: str, count: int = 1
) -> list[dict[str, Any]]:
    """The webhook's deliveries once `count` of them have succeeded or failed."""

    async def finished() -> list[dict[str, Any]] | None:
        items = await deliveries(http, owner, hook_id)
        done = [d for d in items if d["status"] in {"succeeded", "failed"}]
        return items if len(done) >= count else None

    found: list[dict[str, Any]] = await eventually(finished)
    return found


async def test_changes_are_delivered_signed_to_matching_webhooks(
    client: httpx.AsyncClient, alice: Account, bob: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(
        client, alice, receiver.url("/chat"), ["session.created", "message.created"]
    )
    await create_webhook(client, alice, receiver.url("/catalog"), ["seller.created"])
    await new_session(client, bob)  # another user's change reaches none of alice's webhooks
    session = await new_session(client, alice)
    message = await post_text(client, alice, session["id"], "Two coffees, please")

    await eventually(lambda: len(receiver.received) >= 2)
    got = sorted(receiver.received, key=lambda r: r.event["id"])
    assert [r.path for r in got] == ["/chat", "/chat"]
    assert [r.event["type"] for r in got] == ["session.created", "message.created"]
    for request in got:
        assert signatures_valid(hook["secret"], request.headers, request.body)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"] == request.event["id"]
        assert request.event["session_id"] == session["id"]
        assert set(request.event) == {"id", "type", "created_at", "session_id", "data"}
    assert got[0].event["id"] < got[1].event["id"]
    assert got[1].event["data"] == message
    assert not signatures_valid(hook["secret"], got[0].headers, got[0].body + b" ")

    log = await settled(client, alice, hook["id"], count=2)
    assert [d["event_type"] for d in log] == ["message.created", "session.created"]  # newest first
    for delivery in log:
        assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
        assert delivery["last_status_code"] == 200 and delivery["last_error"] is None
        assert delivery["delivered_at"] is not None and delivery["next_attempt_at"] is None
    assert {d["event_id"] for d in log} == {r.event["id"] for r in got}


async def test_failed_attempts_are_retried_with_the_same_id_until_one_succeeds(
    client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(client, alice, receiver.url(), ["session.created"])
    receiver.script(500, 503)
    await new_session(client, alice)

    async def retrying() -> dict[str, Any] | None:
        items = await deliveries(client, alice, hook["id"], status="retrying")
        return items[0] if items else None

    waiting = await eventually(retrying)
    assert waiting["last_status_code"] in {500, 503} and waiting["next_attempt_at"] is not None
    assert waiting["last_error"]
    [delivery] = await settled(client, alice, hook["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 3
    assert delivery["last_status_code"] == 200 and delivery["last_error"] is None
    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert all(signatures_valid(hook["secret"], r.headers, r.body) for r in receiver.received)


async def test_a_delivery_ends_failed_when_its_retries_run_out(
    client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    receiver.default = 500
    hook = await create_webhook(client, alice, receiver.url(), ["session.created"])
    await new_session(client, alice)
    [delivery] = await settled(client, alice, hook["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 4  # 1 + 3 retries
    assert delivery["last_status_code"] == 500 and delivery["next_attempt_at"] is None
    assert len(receiver.received) == 4
    assert await deliveries(client, alice, hook["id"], status="failed") == [delivery]
    assert await deliveries(client, alice, hook["id"], status="succeeded") == []


async def test_redirects_and_slow_answers_are_failures(
    client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(client, alice, receiver.url(), ["session.created"])
    receiver.script(Redirect(receiver.url("/moved")), Sleep(3))
    await new_session(client, alice)
    [delivery] = await settled(client, alice, hook["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 3
    assert [r.path for r in receiver.received] == ["/hook"] * 3  # the redirect was not followed


async def disabled_webhook(
    client: httpx.AsyncClient, account: Account, webhook_id: str
) -> dict[str, Any]:
    """The webhook once disabled: that follows the attempt's record in a transaction of its
    own, so a reader may see the failed delivery a moment before."""

    async def read() -> dict[str, Any] | None:
        response = await client.get(f"{API}/webhooks/{webhook_id}", headers=account.headers)
        data: dict[str, Any] = response.json()["data"]
        return data if data["is_active"] is False else None

    found: dict[str, Any] = await eventually(read)
    return found


async def test_a_410_disables_the_webhook_until_it_is_enabled_again(
    client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(client, alice, receiver.url(), ["session.created"])
    receiver.script(410)
    await new_session(client, alice)
    [delivery] = await settled(client, alice, hook["id"])
    assert delivery["status"] == "failed" and delivery["last_status_code"] == 410
    url = f"{API}/webhooks/{hook['id']}"
    disabled = await disabled_webhook(client, alice, hook["id"])
    assert "410" in disabled["disabled_reason"]

    assert_error(await client.post(f"{url}/test", headers=alice.headers), 409, "conflict")
    retry = await client.post(f"{url}/deliveries/{delivery['id']}/retry", headers=alice.headers)
    assert_error(retry, 409, "conflict")
    enabled = await client.patch(url, json={"is_active": True}, headers=alice.headers)
    assert enabled.json()["data"]["is_active"] is True
    assert enabled.json()["data"]["disabled_reason"] is None
    await new_session(client, alice)
    await settled(client, alice, hook["id"], count=2)
    assert len(receiver.received) == 2


async def test_five_days_of_failures_disable_the_webhook(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    receiver.default = 500
    hook = await create_webhook(client, alice, receiver.url(), ["session.created"])
    # Its failing streak began six days ago (the clock is the boundary moved here).
    async with app.state.resources.database.sessions() as db:
        await db.execute(update(Webhook).values(failing_since=utcnow() - timedelta(days=6)))
        await db.commit()
    await new_session(client, alice)
    [delivery] = await settled(client, alice, hook["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    disabled = await disabled_webhook(client, alice, hook["id"])
    assert "5 days" in disabled["disabled_reason"]


async def test_a_success_ends_the_failing_streak(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(client, alice, receiver.url(), ["session.created"])
    async with app.state.resources.database.sessions() as db:
        await db.execute(update(Webhook).values(failing_since=utcnow() - timedelta(days=4)))
        await db.commit()
    await new_session(client, alice)
    await settled(client, alice, hook["id"])
    receiver.default = 500
    await new_session(client, alice)
    await settled(client, alice, hook["id"], count=2)
    read = await client.get(f"{API}/webhooks/{hook['id']}", headers=alice.headers)
    assert read.json()["data"]["is_active"] is True


async def test_a_manual_retry_delivers_again_now(
    app_factory: Callable[..., Any], receiver: Receiver
) -> None:
    application = await app_factory(webhook_allow_private=True, webhook_retry_schedule="")
    async with make_client(application) as http:
        owner = await sign_up(http)
        hook = await create_webhook(http, owner, receiver.url(), ["session.created"])
        receiver.script(500)
        await new_session(http, owner)
        [failed] = await settled(http, owner, hook["id"])
        assert failed["status"] == "failed" and failed["attempts"] == 1

        url = f"{API}/webhooks/{hook['id']}/deliveries/{failed['id']}/retry"
        queued = await http.post(url, headers=owner.headers)
        assert queued.status_code == 202, queued.text
        assert queued.json()["data"]["id"] == failed["id"]
        assert queued.json()["data"]["status"] == "retrying"

        async def succeeded() -> bool:
            [delivery] = await deliveries(http, owner, hook["id"])
            return delivery["status"] == "succeeded"

        await eventually(succeeded)
        [delivery] = await deliveries(http, owner, hook["id"])
        assert delivery["attempts"] == 2 and delivery["last_status_code"] == 200
        assert [r.headers["webhook-id"] for r in receiver.received] == [failed["event_id"]] * 2

        missing = "0190a0b0-0000-7000-8000-000000000000"
        gone = await http.post(
            f"{API}/webhooks/{hook['id']}/deliveries/{missing}/retry", headers=owner.headers
        )
        assert_error(gone, 404, "not_found")
        other = await sign_up(http)
        assert_error(await http.post(url, headers=other.headers), 404, "not_found")


async def test_a_manual_retry_during_an_attempt_in_flight_is_made_after_it(
    app_factory: Callable[..., Any], receiver: Receiver
) -> None:
    application = await app_factory(
        webhook_allow_private=True, webhook_retry_schedule="", webhook_timeout=5.0
    )
    async with make_client(application) as http:
        owner = await sign_up(http)
        hook = await create_webhook(http, owner, receiver.url(), ["session.created"])
        receiver.script(Sleep(1.0))  # the first attempt is still in flight when retried
        await new_session(http, owner)
        await eventually(lambda: len(receiver.received) == 1)
        [delivery] = await deliveries(http, owner, hook["id"])
        url = f"{API}/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry"
        assert (await http.post(url, headers=owner.headers)).status_code == 202

        async def both_made() -> bool:
            [delivery] = await deliveries(http, owner, hook["id"])
            return delivery["status"] == "succeeded" and delivery["attempts"] == 2

        await eventually(both_made)
        assert [r.headers["webhook-id"] for r in receiver.received] == [delivery["event_id"]] * 2


async def test_an_attempt_whose_runner_died_in_flight_is_taken_over_after_the_flight(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(client, alice, receiver.url(), ["session.created"])
    receiver.script(500)
    await new_session(client, alice)
    [first] = await settled(client, alice, hook["id"])  # attempt 1 failed; 2 is due in 1 s
    # Attempt 2 as a runner that died mid-flight leaves it (the process SIGKILLed after its
    # claim), and the rerun of its job comes before the flight's end.
    async with app.state.resources.database.sessions() as db:
        uow = UnitOfWork(db)
        await db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == UUID(first["id"]))
            .values(
                status="retrying",
                attempts=2,
                next_attempt_at=None,
                in_flight_until=utcnow() + timedelta(seconds=3),
            )
        )
        scheduling.schedule_attempt(uow, UUID(first["id"]), attempt=2, delay=None)
        await uow.commit()

    async def delivered() -> bool:
        [delivery] = await deliveries(client, alice, hook["id"])
        return delivery["status"] == "succeeded"

    await eventually(delivered)
    [delivery] = await deliveries(client, alice, hook["id"])
    assert delivery["attempts"] == 2 and delivery["last_status_code"] == 200


async def test_a_test_ping_reaches_only_the_tested_webhook(
    client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(client, alice, receiver.url("/tested"), ["seller.created"])
    await create_webhook(client, alice, receiver.url("/other"))
    queued = await client.post(f"{API}/webhooks/{hook['id']}/test", headers=alice.headers)
    assert queued.status_code == 202, queued.text
    pending = queued.json()["data"]
    assert pending["event_type"] == "webhook.test" and pending["status"] == "pending"
    assert pending["attempts"] == 0

    await eventually(lambda: receiver.received)
    [ping] = receiver.received
    assert ping.path == "/tested"
    assert ping.event["type"] == "webhook.test"
    assert ping.event["data"] == {"webhook_id": hook["id"]}
    assert ping.headers["webhook-id"] == pending["event_id"] == ping.event["id"]
    assert signatures_valid(hook["secret"], ping.headers, ping.body)
    [delivery] = await settled(client, alice, hook["id"])
    assert delivery["id"] == pending["id"] and delivery["status"] == "succeeded"


async def test_after_rotation_both_secrets_sign_until_the_old_one_expires(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(client, alice, receiver.url())
    url = f"{API}/webhooks/{hook['id']}"
    new_secret = (await client.post(f"{url}/rotate-secret", headers=alice.headers)).json()["data"][
        "secret"
    ]
    await client.post(f"{url}/test", headers=alice.headers)
    await eventually(lambda: receiver.received)
    first = receiver.received[0]
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert signatures_valid(hook["secret"], first.headers, first.body)
    assert signatures_valid(new_secret, first.headers, first.body)

    # A day later the old secret is gone (the clock is the boundary moved here).
    async with app.state.resources.database.sessions() as db:
        await db.execute(
            update(Webhook).values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    await client.post(f"{url}/test", headers=alice.headers)
    await eventually(lambda: len(receiver.received) == 2)
    second = receiver.received[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 1
    assert signatures_valid(new_secret, second.headers, second.body)
    assert not signatures_valid(hook["secret"], second.headers, second.body)


async def test_the_delivery_log_pages_newest_first_and_filters_by_status(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, receiver: Receiver
) -> None:
    hook = await create_webhook(client, alice, receiver.url())
    for _ in range(5):
        await client.post(f"{API}/webhooks/{hook['id']}/test", headers=alice.headers)
    everything = await settled(client, alice, hook["id"], count=5)
    url = f"{API}/webhooks/{hook['id']}/deliveries"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "status": "succeeded"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(url, params=params, headers=alice.headers)).json()["data"]
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [d["id"] for d in everything] == sorted(seen, reverse=True)
    first = (await client.get(url, params={"limit": 2}, headers=alice.headers)).json()["data"]
    foreign = await client.get(
        url, params={"cursor": first["next_cursor"], "status": "failed"}, headers=alice.headers
    )
    assert_error(foreign, 400, "bad_request")
    assert_error(
        await client.get(url, params={"status": "lost"}, headers=alice.headers),
        422,
        "validation_error",
    )
    assert_error(await client.get(url, headers=bob.headers), 404, "not_found")
    admin = await make_admin(app, client)
    assert len((await client.get(url, headers=admin.headers)).json()["data"]["items"]) == 5
    assert_error(
        await client.post(f"{API}/webhooks/{hook['id']}/test", headers=admin.headers),
        404,
        "not_found",
    )


async def test_deleting_a_webhook_stops_its_deliveries(
    client: httpx.AsyncClient, alice: Account, receiver: Receiver
) -> None:
    receiver.default = 500
    hook = await create_webhook(client, alice, receiver.url(), ["session.created"])
    await new_session(client, alice)
    await eventually(lambda: receiver.received)
    assert (await client.delete(f"{API}/webhooks/{hook['id']}", headers=alice.headers)).is_success
    later = await create_webhook(client, alice, receiver.url("/later"), ["session.created"])
    receiver.default = 200
    await new_session(client, alice)
    await settled(client, alice, later["id"])
    assert {r.path for r in receiver.received} == {"/hook", "/later"}
    assert len([r for r in receiver.received if r.path == "/hook"]) == 1


# The address guard at delivery time --------------------------------------------------------


async def test_a_name_rebound_to_a_private_address_gets_no_delivery(
    app_factory: Callable[..., Any], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"hooks.example.com": "93.184.215.14"}

    async def resolve(host: str, port: int) -> list[network.IPAddress]:
        return [ipaddress.ip_address(answers[host])]

    monkeypatch.setattr(network, "resolve_host", resolve)
    application = await app_factory(webhook_allow_private=False, webhook_retry_schedule="")
    async with make_client(application) as http:
        owner = await sign_up(http)
        hook = await create_webhook(
            http, owner, receiver.url(host="hooks.example.com"), ["session.created"]
        )
        answers["hooks.example.com"] = "127.0.0.1"  # the name now points inside
        await new_session(http, owner)
        [delivery] = await settled(http, owner, hook["id"])
    assert delivery["status"] == "failed" and delivery["last_status_code"] is None
    assert "private" in delivery["last_error"]
    assert receiver.received == []


async def test_the_purge_removes_finished_deliveries_past_retention(
    app_factory: Callable[..., Any], receiver: Receiver
) -> None:
    from parley.jobs import JobContext
    from parley.webhooks.jobs import purge_deliveries

    application = await app_factory(webhook_allow_private=True, webhook_retry_schedule="1h")
    async with make_client(application) as http:
        owner = await sign_up(http)
        hook = await create_webhook(http, owner, receiver.url())
        receiver.script(500, 200, 200)
        for _ in range(3):
            await http.post(f"{API}/webhooks/{hook['id']}/test", headers=owner.headers)

        async def one_waits() -> list[dict[str, Any]] | None:
            items = await deliveries(http, owner, hook["id"])
            statuses = sorted(d["status"] for d in items)
            return items if statuses == ["retrying", "succeeded", "succeeded"] else None

        items = await eventually(one_waits)
        # Everything was made 31 days ago (the clock is the boundary moved here).
        resources = application.state.resources
        async with resources.database.sessions() as db:
            await db.execute(
                update(WebhookDelivery).values(created_at=utcnow() - timedelta(days=31))
            )
            await db.commit()
        context = JobContext(
            settings=resources.settings, database=resources.database, mailer=resources.mailer,
            media=resources.media, job_id="test", attempt=1,
        )  # fmt: skip
        await purge_deliveries.handler(context, {})
        kept = await deliveries(http, owner, hook["id"])
    assert [d["id"] for d in kept] == [d["id"] for d in items if d["status"] == "retrying"]
