"""A webhook receiver that goes away and comes back: the deliveries made while it was down
wait in the log, retrying, and all arrive once it is back, each once."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import make_client, sign_up
from tests.e2e.chat_helpers import new_session
from tests.support.webhook_receiver import Receiver, eventually, signatures_valid

API = "/api/v1"

pytestmark = pytest.mark.slow


async def test_deliveries_made_while_the_receiver_is_down_arrive_when_it_returns(
    app_factory: Callable[..., Any],
) -> None:
    receiver = await Receiver().start()
    port = receiver.port
    application = await app_factory(
        webhook_allow_private=True, webhook_retry_schedule="1s,1s,1s,1s,1s,1s,1s,1s"
    )
    async with make_client(application) as http:
        owner = await sign_up(http)
        created = await http.post(
            f"{API}/webhooks",
            json={"url": receiver.url(), "events": ["session.created"]},
            headers=owner.headers,
        )
        hook = created.json()["data"]
        await receiver.stop()
        sessions = [await new_session(http, owner, f"Shop {n}") for n in range(3)]
        log_url = f"{API}/webhooks/{hook['id']}/deliveries"

        async def all_retrying() -> bool:
            items = (await http.get(log_url, headers=owner.headers)).json()["data"]["items"]
            return len(items) == 3 and all(
                d["status"] == "retrying" and d["last_error"] and d["last_status_code"] is None
                for d in items
            )

        await eventually(all_retrying)
        back = await Receiver(port=port).start()
        try:

            async def all_succeeded() -> bool:
                items = (await http.get(log_url, headers=owner.headers)).json()["data"]["items"]
                return len(items) == 3 and all(d["status"] == "succeeded" for d in items)

            await eventually(all_succeeded, within=60)
        finally:
            await back.stop()
    ids = [r.headers["webhook-id"] for r in back.received]
    assert len(ids) == len(set(ids)) == 3
    assert {r.event["session_id"] for r in back.received} == {s["id"] for s in sessions}
    assert all(signatures_valid(hook["secret"], r.headers, r.body) for r in back.received)
