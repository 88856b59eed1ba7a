"""Revocation under a failing Redis. Two workers of a real `parley serve` share a Redis of the
test's own; with that Redis stopped, hung (CLIENT PAUSE) or restarted, a revoked login session,
a disabled user and a demoted administrator are refused by every worker from 2 s after the
revoking response, and meanwhile no request fails or hangs."""

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, unique_email
from tests.support.parley_server import ParleyServer, running_parley
from tests.support.servers import Redis, own_redis

pytestmark = [pytest.mark.slow, pytest.mark.redis]

API = "/api/v1"
ADMIN_EMAIL = "root@example.com"
# Every worker must refuse a revoked token from this long after the revoking response.
ENFORCED_AFTER_S = 2.0
# How long the refusals are watched once they must hold.
WATCH_S = 3.0
# A generous bound on any one request while Redis misbehaves (expected: well under a second).
BOUND_S = 10.0
# How long Redis stays hung when every command is paused.
HUNG_S = 12.0


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Redis]:
    try:
        with own_redis() as server:
            yield server
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")


@pytest.fixture(scope="module")
def server(redis_server: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    environment = {
        "REDIS_URL": redis_server.url,
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": PASSWORD,
        "RATE_LIMIT_MAX": "1000000",
    }
    workdir: Path = tmp_path_factory.mktemp("revocation")
    with running_parley(workdir, workers=2, env=environment) as parley:
        yield parley


@dataclass(frozen=True)
class Fault:
    name: str
    begin: Callable[[Redis], None]
    end: Callable[[Redis], None]
    # A restart is over before the refusals are watched.
    over_before_watching: bool = False


FAULTS = [
    Fault("stopped", Redis.stop, Redis.start),
    # A pause of ALL commands cannot be lifted early (see Redis.resume): it covers the
    # revocations and the watch that follows them, then ends by itself.
    Fault("hung", lambda redis: redis.pause("ALL", seconds=HUNG_S), Redis.resume),
    Fault("hung-writes", lambda redis: redis.pause("WRITE"), Redis.resume),
    # Restarted at once, just before the revocations: the other worker reconnects while they
    # are published, and what it missed must not be served from its cache.
    Fault("restarted", Redis.restart, lambda redis: None, over_before_watching=True),
]


@dataclass
class Probe:
    """A token and a route, and what the route must answer once the token lost its access."""

    name: str
    token: str
    path: str
    refused_with: int | None  # None: never revoked, stays 200
    revoked_at: float = field(default=float("inf"))


@dataclass
class Seen:
    probe: Probe
    sent_at: float
    status: int
    took: float


class Api:
    """A client that opens a new connection per request, so requests reach both workers."""

    def __init__(self, base: str) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        self.http = httpx.AsyncClient(base_url=base, limits=limits, timeout=BOUND_S * 3)
        self.seen: list[Seen] = []

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.request(method, f"{API}{path}", headers=headers, **kw)
        assert response.status_code < 500, response.text
        return response

    async def ok(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        response = await self.call(method, path, token, **kw)
        assert response.status_code in (200, 201), response.text
        return response.json()["data"]

    async def login(self, email: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.ok(
            "POST", "/auth/login", json={"email": email, "password": PASSWORD}
        )
        return data

    async def register(self) -> tuple[str, str]:
        email = unique_email()
        user = await self.ok("POST", "/auth/register", json={"email": email, "password": PASSWORD})
        return user["id"], email

    async def probe(self, probe: Probe) -> None:
        sent_at = time.monotonic()
        response = await self.call("GET", probe.path, probe.token)
        self.seen.append(Seen(probe, sent_at, response.status_code, time.monotonic() - sent_at))

    async def watch(self, probes: list[Probe], *, until: float) -> None:
        while time.monotonic() < until:
            await asyncio.gather(*(self.probe(probe) for probe in probes * 2))
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
async def test_revocations_hold_on_every_worker_whatever_state_redis_is_in(
    server: ParleyServer, redis_server: Redis, fault: Fault
) -> None:
    api = Api(server.base)
    async with api.http:
        admin = (await api.login(ADMIN_EMAIL))["access_token"]
        _, owner_email = await api.register()
        devices = [await api.login(owner_email) for _ in range(3)]
        disabled_id, disabled_email = await api.register()
        demoted_id, demoted_email = await api.register()
        await api.ok("PATCH", f"/users/{demoted_id}", admin, json={"role": "admin"})
        logged_out, removed, kept = devices
        probes = [
            Probe("logged out", logged_out["access_token"], "/users/me", 401),
            Probe("device removed", removed["access_token"], "/users/me", 401),
            Probe(
                "user disabled", (await api.login(disabled_email))["access_token"], "/users/me", 401
            ),
            Probe("role removed", (await api.login(demoted_email))["access_token"], "/users", 403),
            Probe("device kept", kept["access_token"], "/users/me", None),
        ]
        # Cache every token in both workers while the channel is live.
        await api.watch(probes, until=time.monotonic() + 1.0)
        assert all(seen.status == 200 for seen in api.seen), "a token failed before the fault"

        fault.begin(redis_server)
        try:
            await _revoke(
                api, probes, admin=admin, removed=removed, kept=kept, ids=(disabled_id, demoted_id)
            )
            if fault.over_before_watching:
                fault.end(redis_server)
            last = max(probe.revoked_at for probe in probes[:4])
            await api.watch(probes, until=last + ENFORCED_AFTER_S + WATCH_S)
        finally:
            if not fault.over_before_watching:
                fault.end(redis_server)
        # Once Redis is back, the caches trust again without letting anything revoked back in.
        await api.watch(probes, until=time.monotonic() + WATCH_S)

    late = [
        (seen.probe.name, seen.status, round(seen.sent_at - seen.probe.revoked_at, 2))
        for seen in api.seen
        if seen.sent_at >= seen.probe.revoked_at + ENFORCED_AFTER_S
        and seen.status != seen.probe.refused_with
    ]
    assert late == [], f"access still granted (or wrongly refused) with Redis {fault.name}"
    kept_statuses = {seen.status for seen in api.seen if seen.probe.refused_with is None}
    assert kept_statuses == {200}, "the live device lost access"
    slowest = max(seen.took for seen in api.seen)
    assert slowest < BOUND_S, f"a request took {slowest:.1f} s with Redis {fault.name}"


async def _revoke(
    api: Api,
    probes: list[Probe],
    *,
    admin: str,
    removed: dict[str, Any],
    kept: dict[str, Any],
    ids: tuple[str, str],
) -> None:
    """Log out, remove a device, disable a user and demote an admin; note each response time."""
    disabled_id, demoted_id = ids
    revocations = [
        ("POST", "/auth/logout", probes[0].token, None),
        ("DELETE", f"/auth/sessions/{removed['session_id']}", kept["access_token"], None),
        ("PATCH", f"/users/{disabled_id}", admin, {"is_active": False}),
        ("PATCH", f"/users/{demoted_id}", admin, {"role": "user"}),
    ]
    for probe, (method, path, token, body) in zip(probes, revocations, strict=False):
        started = time.monotonic()
        await api.ok(method, path, token, json=body)
        probe.revoked_at = time.monotonic()
        assert probe.revoked_at - started < BOUND_S, f"{method} {path} hung"
