"""What is measured against a running stack: each endpoint beside its baseline, deep message
pages, logins, latency under login load, tail latency at 64 connections, memory over a soak,
and 2 workers against 1."""

import base64
import json
import statistics
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from bench import client, wrk
from bench.procs import Registry, Server
from bench.profiles import Profile
from bench.seed_data import Manifest
from bench.stack import Stack
from bench.wrk import Load

API = "/api/v1"
MESSAGE_TEXT = "Thanks! Could you confirm the delivery address and the time window for tomorrow?"
# A page read from the database, not from the pages a worker keeps (decision 202).
FRESH = (("Cache-Control", "no-cache"),)

Result = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    parley: Load
    baseline: Load | None
    check: tuple[str, str, str]  # one request to try first: (method, path, body)
    expect: int = 200


def endpoints(manifest: Manifest, token: str, connections: int) -> list[Endpoint]:
    """The measured endpoints, each with its baseline twin."""
    page_path = f"{API}/sessions/{manifest.deep_sessions['1000']}/messages?limit=20"
    posts = tuple(
        ("POST", f"{API}/sessions/{sid}/messages", json.dumps({"content": MESSAGE_TEXT}))
        for sid in manifest.post_sessions
    )
    base_post = (("POST", "/messages", json.dumps({"content": MESSAGE_TEXT})),)
    sellers = f"{API}/sellers?q={manifest.seller_query}"

    def get(path: str) -> tuple[tuple[str, str, str], ...]:
        return (("GET", path, ""),)

    return [
        Endpoint(
            "me",
            "GET /users/me",
            Load(get(f"{API}/users/me"), token, connections=connections),
            Load(get("/me"), connections=connections),
            get(f"{API}/users/me")[0],
        ),
        Endpoint(
            "page",
            "GET messages (page of 20)",
            Load(get(page_path), token, connections=connections),
            Load(get("/messages?limit=20"), connections=connections),
            get(page_path)[0],
        ),
        Endpoint(
            "page_fresh",
            "GET messages (page of 20, Cache-Control: no-cache)",
            Load(get(page_path), token, connections=connections, headers=FRESH),
            Load(get("/messages?limit=20"), connections=connections),
            get(page_path)[0],
        ),
        Endpoint(
            "post",
            "POST text message",
            Load(posts, token, connections=connections),
            Load(base_post, connections=connections),
            posts[0],
            expect=201,
        ),
        Endpoint(
            "sessions",
            "GET /sessions (page of 20)",
            Load(get(f"{API}/sessions?limit=20"), token, connections=connections),
            Load(get("/sessions?limit=20"), connections=connections),
            get(f"{API}/sessions?limit=20")[0],
        ),
        Endpoint(
            "sellers",
            f"GET /sellers?q={manifest.seller_query}",
            Load(get(sellers), token, connections=connections),
            Load(get(f"/sellers?q={manifest.seller_query}"), connections=connections),
            get(sellers)[0],
        ),
    ]


def preflight(server: Server, token: str, check: tuple[str, str, str], expect: int) -> str | None:
    """Return why the route cannot be measured, or None when it answers as expected."""
    method, path, body = check
    status, answer = client.call(
        server.base_url, method, path, token=token, body=json.loads(body) if body else None
    )
    if status != expect:
        return f"{method} {path} answered {status}: {str(answer)[:200]}"
    if not isinstance(answer, dict) or answer.get("status") != "success":
        return f"{method} {path} answered no success envelope"
    return None


def aggregate(runs: list[Result]) -> Result:
    """Medians over rounds for rates and latencies; sums for counts."""
    if not runs:
        return {}
    out: Result = {
        k: round(statistics.median(r[k] for r in runs), 3)
        for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "bytes_per_response")
    }
    for key in ("requests", "non_2xx", "socket_errors", "wrk_cpu_s", "server_cpu_s"):
        out[key] = round(sum(r[key] for r in runs), 2)
    for key in ("seconds", "machine_cpu_s", "steal_s"):
        out[key] = round(sum(r.get(key, 0) for r in runs), 2)
    out["max_ms"] = max(r["max_ms"] for r in runs)
    if any("starved" in r for r in runs):
        out["starved"] = sum(int(r.get("starved", 0)) for r in runs)
    out["server_cpu_ms_per_request"] = round(
        1000 * out["server_cpu_s"] / max(out["requests"], 1), 3
    )
    return out


class Runner:
    """Runs wrk against a stack with the profile's durations and the layout's CPUs."""

    def __init__(self, registry: Registry, profile: Profile, load_cpus: str | None) -> None:
        self.registry = registry
        self.profile = profile
        self.load_cpus = load_cpus

    def run(self, server: Server, load: Load, seconds: int | None = None) -> Result:
        server.settle()
        return wrk.run(
            self.registry,
            server,
            load,
            duration=seconds or self.profile.duration,
            cpus=self.load_cpus,
        )

    def warm(self, server: Server, load: Load) -> None:
        if self.profile.warmup:
            self.run(server, load, self.profile.warmup)

    def compare(self, stack: Stack, parley: Load, baseline: Load | None) -> Result:
        """Alternate baseline and Parley runs; report both and their throughput ratio."""
        if baseline is not None:
            self.warm(stack.baseline, baseline)
        self.warm(stack.parley, parley)
        base_runs: list[Result] = []
        parley_runs: list[Result] = []
        for _ in range(self.profile.rounds):
            if baseline is not None:
                base_runs.append(self.run(stack.baseline, baseline))
            parley_runs.append(self.run(stack.parley, parley))
        return compared(parley_runs, base_runs)


def compared(parley_runs: list[Result], base_runs: list[Result]) -> Result:
    """Parley's runs and the baseline's (if any): medians, every run, and their ratio."""
    result: Result = {"parley": aggregate(parley_runs), "parley_runs": parley_runs}
    if base_runs:
        result["baseline"] = aggregate(base_runs)
        result["baseline_runs"] = base_runs
        result["ratio"] = round(result["parley"]["rps"] / result["baseline"]["rps"], 3)
    return result


def measure_endpoints(runner: Runner, stack: Stack, manifest: Manifest, token: str) -> Result:
    out: Result = {}
    for endpoint in endpoints(manifest, token, runner.profile.connections):
        problem = preflight(stack.parley, token, endpoint.check, endpoint.expect)
        if problem:
            print(f"  skip {endpoint.key}: {problem}", flush=True)
            out[endpoint.key] = {"label": endpoint.label, "skipped": problem}
            continue
        stack.tidy()
        result = runner.compare(stack, endpoint.parley, endpoint.baseline)
        out[endpoint.key] = {"label": endpoint.label, **result}
        say(endpoint.key, result)
    stack.tidy()
    out["refresh"] = measure_refresh(runner, stack, manifest)
    return out


def measure_refresh(runner: Runner, stack: Stack, manifest: Manifest) -> Result:
    """Refresh-token rotation, each run on fresh login sessions (one per connection)."""
    connections = max(4, runner.profile.connections // 2)
    path = f"{API}/auth/refresh"
    try:
        first = client.login(stack.parley.base_url, manifest.email, manifest.password)
    except RuntimeError as exc:
        return {"label": "POST /auth/refresh", "skipped": str(exc)}
    status, _ = client.call(
        stack.parley.base_url, "POST", path, body={"refresh_token": first["refresh_token"]}
    )
    if status != 200:
        return {"label": "POST /auth/refresh", "skipped": f"refresh answered {status}"}
    baseline = Load(
        (("POST", "/token", json.dumps({"refresh_token": "r" * 43})),), connections=connections
    )

    spare: list[str] = []

    def rotation() -> Load:
        """One refresh token per connection: those left by the last run, topped up by logins."""
        missing = connections - len(spare)
        if missing > 0:
            pairs = client.login_many(
                stack.parley.base_url, manifest.email, manifest.password, missing
            )
            spare.extend(p["refresh_token"] for p in pairs)
        tokens = tuple(spare[:connections])
        del spare[:connections]
        return Load((("POST", path, ""),), refresh_tokens=tokens, connections=connections)

    def measured(seconds: int | None = None) -> Result:
        result = runner.run(stack.parley, rotation(), seconds)
        spare.extend(result.pop("refresh_tokens_left", []))
        return result

    runner.warm(stack.baseline, baseline)
    if runner.profile.warmup:
        measured(runner.profile.warmup)
    base_runs, parley_runs = [], []
    for _ in range(runner.profile.rounds):
        base_runs.append(runner.run(stack.baseline, baseline))
        parley_runs.append(measured())
    result: Result = {
        "label": "POST /auth/refresh",
        "parley": aggregate(parley_runs),
        "baseline": aggregate(base_runs),
        "parley_runs": parley_runs,
        "baseline_runs": base_runs,
    }
    result["ratio"] = round(result["parley"]["rps"] / result["baseline"]["rps"], 3)
    say("refresh", result)
    return result


def say(key: str, result: Result) -> None:
    p = result.get("parley", {})
    b = result.get("baseline", {})
    extra = f" baseline {b.get('rps')} req/s, ratio {result.get('ratio')}" if b else ""
    print(
        f"  {key:<10} parley {p.get('rps')} req/s p50 {p.get('p50_ms')} ms p99 {p.get('p99_ms')} ms"
        f" errors {p.get('non_2xx', 0) + p.get('socket_errors', 0)};{extra}",
        flush=True,
    )


# ------------------------------------------------------------------ deep pages


def craft_cursor(
    cursor: str, secret: str, position: int, page_end: int, *, session_id: str
) -> str | None:
    """Re-sign a real cursor of a session's ascending message list, moved to `position`: the
    integer that marked the page end moves."""
    from parley.core.cursors import CursorCodec, list_scope

    payload = cursor.split(".")[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    keys = [k for k, v in data.items() if isinstance(v, int) and v == page_end]
    if len(keys) != 1 or not isinstance(data, dict):
        return None
    data[keys[0]] = position
    scope = list_scope("messages", UUID(session_id), "asc")
    return CursorCodec(secret).encode(data, scope=scope)


def deep_pages(runner: Runner, stack: Stack, manifest: Manifest, token: str, secret: str) -> Result:
    """First, middle (by cursor) and newest pages of sessions holding 10^3, 10^5, 10^6 messages."""
    loads: dict[str, dict[str, Load]] = {}
    connections = max(4, runner.profile.connections // 2)
    for size, sid in manifest.deep_sessions.items():
        base = f"{API}/sessions/{sid}/messages?limit=20"
        status, body = client.call(stack.parley.base_url, "GET", base, token=token)
        if status != 200:
            return {"skipped": f"message page answered {status}"}
        paths = {"first": base, "newest": base + "&order=desc"}
        cursor = body["data"].get("next_cursor")
        moved = craft_cursor(cursor, secret, int(size) // 2, 20, session_id=sid) if cursor else None
        if moved:
            middle = f"{base}&cursor={moved}"
            status, answer = client.call(stack.parley.base_url, "GET", middle, token=token)
            if status == 200 and answer["data"]["items"]:
                paths["middle"] = middle
        # The database's pages: what is measured is how paging scales with a session's size.
        loads[size] = {
            pos: Load((("GET", p, ""),), token, connections=connections, headers=FRESH)
            for pos, p in paths.items()
        }
    runs: dict[str, dict[str, list[Result]]] = {s: {p: [] for p in v} for s, v in loads.items()}
    for size_loads in loads.values():
        runner.warm(stack.parley, size_loads["first"])
    for _ in range(runner.profile.rounds):
        for size, size_loads in loads.items():
            for position, load in size_loads.items():
                runs[size][position].append(
                    runner.run(stack.parley, load, runner.profile.deep_duration)
                )
    out: Result = {
        size: {pos: aggregate(r) for pos, r in by_pos.items()} for size, by_pos in runs.items()
    }
    for size, by_pos in out.items():
        print(
            "  deep "
            + size
            + ": "
            + ", ".join(f"{p} p50 {r['p50_ms']} ms {r['rps']} req/s" for p, r in by_pos.items()),
            flush=True,
        )
    return out
