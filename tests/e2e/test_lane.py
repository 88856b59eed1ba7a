"""The lane (decision 182): a hot route's common case is answered past the framework's router,
byte for byte as the route answers it; anything unusual goes on to the route, which answers it.

FastAPI ignores a query parameter no route declares while the lane declines it, so `?via=route`
asks the same question of the route itself: the two answers must be identical.
"""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from parley.api.lane import Lane
from parley.catalog.router import lane_routes as catalog_lane
from parley.chats.router import lane_routes as chats_lane
from parley.main import API_PREFIX
from parley.users.router import lane_routes as users_lane
from tests.conftest import Account, assert_error, sign_up
from tests.e2e.catalog_helpers import create_seller, create_vendor
from tests.e2e.chat_helpers import API, MISSING, new_session, post_text

# Headers that differ from one answer to the next whoever answers.
_PER_RESPONSE = {"x-request-id", "date", "ratelimit-remaining", "ratelimit-reset"}


@pytest.fixture
def lane_answered(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, bool]]:
    """Each request the lane was offered: method, path, and whether the lane answered it."""
    seen: list[tuple[str, str, bool]] = []
    offer = Lane.__call__

    async def spy(self: Lane, scope: Any, *args: Any, **kwargs: Any) -> bool:
        answered = await offer(self, scope, *args, **kwargs)
        seen.append((scope["method"], scope["path"], answered))
        return answered

    monkeypatch.setattr(Lane, "__call__", spy)
    return seen


def _last(seen: list[tuple[str, str, bool]]) -> bool:
    return seen[-1][2]


def _same_answer(lane: httpx.Response, route: httpx.Response) -> None:
    assert lane.status_code == route.status_code, (lane.text, route.text)
    assert lane.content == route.content
    lane_headers = {k: v for k, v in lane.headers.items() if k not in _PER_RESPONSE}
    route_headers = {k: v for k, v in route.headers.items() if k not in _PER_RESPONSE}
    assert lane_headers == route_headers


async def _catalogue(client: httpx.AsyncClient, alice: Account) -> dict[str, str]:
    sid = (await new_session(client, alice))["id"]
    for n in range(3):
        await post_text(client, alice, sid, f"Hello {n} organic")
    await create_vendor(client, alice, sid)
    seller = await create_seller(client, alice, sid, name="Organic Oils")
    return {"sid": sid, "seller": seller["id"]}


async def test_every_hot_read_takes_the_lane_and_answers_as_its_route(
    client: httpx.AsyncClient, alice: Account, lane_answered: list[tuple[str, str, bool]]
) -> None:
    ids = await _catalogue(client, alice)
    sid, seller = ids["sid"], ids["seller"]
    reads = [
        "/users/me",
        "/sessions",
        "/sessions?limit=1",
        "/sessions?q=shop",
        f"/sessions/{sid}",
        f"/sessions/{sid}/messages",
        f"/sessions/{sid}/messages?limit=2&order=desc",
        f"/sessions/{sid}/messages?q=ORGANIC",
        f"/sessions/{sid}/vendor",
        "/vendors?limit=5",
        f"/sessions/{sid}/sellers",
        "/sellers?q=%20organic%20",
        f"/sellers/{seller}",
    ]
    for read in reads:
        lane = await client.get(f"{API}{read}", headers=alice.headers)
        assert lane.status_code == 200, (read, lane.text)
        assert _last(lane_answered), read
        joiner = "&" if "?" in read else "?"
        route = await client.get(f"{API}{read}{joiner}via=route", headers=alice.headers)
        assert not _last(lane_answered), read
        _same_answer(lane, route)
    # A page's cursor is the lane's to read too: the next page is the same either way.
    first = await client.get(f"{API}/sessions/{sid}/messages?limit=2", headers=alice.headers)
    cursor = first.json()["data"]["next_cursor"]
    lane = await client.get(
        f"{API}/sessions/{sid}/messages", params={"cursor": cursor}, headers=alice.headers
    )
    assert _last(lane_answered)
    route = await client.get(
        f"{API}/sessions/{sid}/messages",
        params={"cursor": cursor, "via": "route"},
        headers=alice.headers,
    )
    _same_answer(lane, route)
    assert [m["content"] for m in lane.json()["data"]["items"]] == ["Hello 2 organic"]


async def test_the_lane_refuses_as_the_route_does(
    client: httpx.AsyncClient, alice: Account, bob: Account, lane_answered: list[Any]
) -> None:
    sid = (await new_session(client, alice))["id"]
    await client.get(f"{API}/users/me", headers=bob.headers)  # bob's token is remembered
    for read in (
        f"/sessions/{sid}",
        f"/sessions/{sid}/messages",
        f"/sessions/{sid}/vendor",
        f"/sessions/{MISSING}/sellers",
        f"/sellers/{MISSING}",
        "/sessions?cursor=not-a-cursor",
        f"/sessions/{sid}/messages?cursor=AAAA",
    ):
        lane = await client.get(f"{API}{read}", headers=bob.headers)
        assert lane.status_code in (400, 404), (read, lane.text)
        assert _last(lane_answered), read
        joiner = "&" if "?" in read else "?"
        _same_answer(lane, await client.get(f"{API}{read}{joiner}via=route", headers=bob.headers))


async def test_a_text_post_takes_the_lane_and_its_errors_are_the_routes(
    client: httpx.AsyncClient, alice: Account, bob: Account, lane_answered: list[Any]
) -> None:
    sid = (await new_session(client, alice, title=None))["id"]
    path = f"{API}/sessions/{sid}/messages"

    async def post(body: bytes, content_type: str, who: Account = alice) -> httpx.Response:
        headers = {**who.headers, "Content-Type": content_type}
        return await client.post(path, content=body, headers=headers)

    lane = await post(b'{"content": "Hi there", "sender": "customer"}', "application/json")
    assert lane.status_code == 201 and _last(lane_answered)
    route = await post(b'{"content": "Hi there", "sender": "customer"}', "application/vnd.x+json")
    assert route.status_code == 201 and not _last(lane_answered)
    made = {k: v for k, v in lane.json()["data"].items() if k not in {"id", "created_at"}}
    again = {k: v for k, v in route.json()["data"].items() if k not in {"id", "created_at"}}
    assert made == again and made["content"] == "Hi there"
    session = (await client.get(f"{API}/sessions/{sid}", headers=alice.headers)).json()["data"]
    assert session["title"] == "Hi there" and session["message_count"] == 2

    for body, status in (
        (b"{not json", 400),
        (b"[1, 2]", 422),
        (b'{"content": ""}', 422),
        (b'{"content": "x", "sender": "robot"}', 422),
    ):
        lane = await post(body, "application/json")
        assert lane.status_code == status and _last(lane_answered), body
        _same_answer(lane, await post(body, "application/vnd.x+json"))
    await client.get(f"{API}/users/me", headers=bob.headers)  # bob's token is remembered
    lane = await post(b'{"content": "not yours"}', "application/json", who=bob)
    assert_error(lane, 404, "not_found")
    assert _last(lane_answered)
    _same_answer(lane, await post(b'{"content": "not yours"}', "application/vnd.x+json", who=bob))
    messages = await client.get(path, headers=alice.headers)
    assert len(messages.json()["data"]["items"]) == 2  # no refused post left anything behind


async def test_what_the_lane_cannot_read_goes_to_the_route(
    client: httpx.AsyncClient, alice: Account, lane_answered: list[Any]
) -> None:
    sid = (await new_session(client, alice))["id"]
    await client.get(f"{API}/users/me", headers=alice.headers)
    declined = [
        f"/sessions/{sid}/messages?limit=0",
        f"/sessions/{sid}/messages?limit=101",
        f"/sessions/{sid}/messages?limit=05",
        f"/sessions/{sid}/messages?limit=2&limit=3",
        f"/sessions/{sid}/messages?order=sideways",
        f"/sessions/{sid}/messages?q=",
        f"/sessions/{sid}/messages?cursor={'x' * 1025}",
        f"/sessions/{sid.replace('-', '')}",
        "/sellers?q=" + "a" * 201,
    ]
    for read in declined:
        response = await client.get(f"{API}{read}", headers=alice.headers)
        assert not _last(lane_answered), read
        assert response.status_code in (200, 400, 422), (read, response.text)
    limit_zero = await client.get(f"{API}/sessions/{sid}/messages?limit=0", headers=alice.headers)
    assert_error(limit_zero, 422, "validation_error")
    # Credentials the lane does not hold: the route authenticates, then remembers the token.
    fresh = await sign_up(client)
    assert (await client.get(f"{API}/users/me", headers=fresh.headers)).status_code == 200
    assert (await client.get(f"{API}/users/me", headers=fresh.headers)).status_code == 200
    assert [answered for *_, answered in lane_answered[-2:]] == [False, True]
    unknown = await client.get(f"{API}/users/me", headers={"Authorization": "Bearer nope"})
    assert_error(unknown, 401, "unauthorized")
    assert not _last(lane_answered)
    basic_first = await client.get(
        f"{API}/users/me",
        headers=[
            ("Authorization", "Basic eDp5"),
            ("Authorization", alice.headers["Authorization"]),
        ],
    )
    assert_error(basic_first, 401, "unauthorized")  # the first Authorization header counts
    head = await client.head(f"{API}/users/me", headers=alice.headers)
    assert head.status_code == 200 and head.content == b""


def test_every_lane_route_stands_for_a_documented_route(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    twins = [*users_lane, *chats_lane, *catalog_lane]
    assert len(twins) == 10
    for twin in twins:
        operation = paths.get(API_PREFIX + twin.path_format, {}).get(twin.method.lower())
        assert operation is not None, twin.path_format
        parameters = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert set(twin.query) == parameters, twin.path_format
