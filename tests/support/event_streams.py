"""Helpers for tests that read GET /events/stream from a real `parley serve`: accounts,
requests on connections of their own (so a server's workers share them), and a Server-Sent
Events reader with a hang bound."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from httpx_sse import EventSource, ServerSentEvent, aconnect_sse

from tests.conftest import PASSWORD

API = "/api/v1"
DEADLINE_S = 30.0  # a hang bound: many times what anything below should take


@dataclass
class User:
    token: str
    login_session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(base: str, email: str | None = None) -> User:
    email = email or f"stream-{uuid.uuid4().hex[:12]}@example.com"
    with httpx.Client(base_url=base, timeout=DEADLINE_S) as http:
        registered = http.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        return log_in(http, email)


def log_in(http: httpx.Client, email: str) -> User:
    response = http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return User(data["access_token"], data["session_id"])


def call(
    base: str, method: str, path: str, user: User | None = None, **kwargs: Any
) -> httpx.Response:
    """One request on a connection of its own, so the workers share them."""
    headers = {**(user.headers if user else {}), "Connection": "close", **kwargs.pop("headers", {})}
    with httpx.Client(base_url=base, timeout=DEADLINE_S) as http:
        return http.request(method, f"{API}{path}", headers=headers, **kwargs)


def new_session(base: str, user: User) -> str:
    response = call(base, "POST", "/sessions", user, json={"title": "Live"})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def post(base: str, user: User, sid: str, content: str) -> dict[str, Any]:
    response = call(base, "POST", f"/sessions/{sid}/messages", user, json={"content": content})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


class Stream:
    """One open stream, read event by event across several `take`s."""

    def __init__(self, source: EventSource) -> None:
        self.response = source.response
        self._events = source.aiter_sse()
        self.events: list[ServerSentEvent] = []

    async def take(self, count: int) -> list[ServerSentEvent]:
        """Read until `count` more events have come; fail at the deadline."""
        got = []
        with anyio.fail_after(DEADLINE_S):
            for _ in range(count):
                got.append(await anext(self._events))
        self.events.extend(got)
        return got

    async def assert_ends(self, within: float) -> None:
        """The server ends the stream within `within` seconds (events before are kept)."""
        with anyio.fail_after(within):
            async for event in self._events:
                self.events.append(event)


@asynccontextmanager
async def open_stream(
    base: str,
    user: User | None,
    *,
    headers: dict[str, str] | None = None,
    **params: str,
) -> AsyncIterator[Stream]:
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(DEADLINE_S)) as http,
        aconnect_sse(
            http,
            "GET",
            f"{API}/events/stream",
            params=params,
            headers={**(user.headers if user else {}), **(headers or {})},
        ) as source,
    ):
        assert source.response.status_code == 200, await source.response.aread()
        yield Stream(source)
