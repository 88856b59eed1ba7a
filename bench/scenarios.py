"""What is measured against a running stack: each endpoint beside its baseline, deep message
pages, logins, latency under login load, tail latency at 64 connections, memory over a soak,
and 2 workers against 1."""

import base64
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

from bench import client, wrk
from bench.procs import Registry, Server
from bench.profiles import Profile
from bench.seed_data import Manifest
from bench.stack import Stack
from bench.wrk import Load

API = "/api/v1"
MESSAGE_TEXT = "Thanks! Could you confirm the delivery address and the time window for tomorrow?"

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
            "post",
            "POST text message",
            Load(posts, token, connections=connections),
            Load(base_post, connections=connections),
            posts[0],
            expect=201,
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
        result: Result = {"parley": aggregate(parley_runs), "parley_runs": parley_runs}
        if baseline is not None:
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
        result = runner.compare(stack, endpoint.parley, endpoint.baseline)
        out[endpoint.key] = {"label": endpoint.label, **result}
        _say(endpoint.key, result)
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
    _say("refresh", result)
    return result


def _say(key: str, result: Result) -> None:
    p = result.get("parley", {})
    b = result.get("baseline", {})
    extra = f" baseline {b.get('rps')} req/s, ratio {result.get('ratio')}" if b else ""
    print(
        f"  {key:<10} parley {p.get('rps')} req/s p50 {p.get('p50_ms')} ms p99 {p.get('p99_ms')} ms"
        f" errors {p.get('non_2xx', 0) + p.get('socket_errors', 0)};{extra}",
        flush=True,
    )


# ------------------------------------------------------------------ deep pages


def craft_cursor(cursor: str, secret: str, position: int, page_end: int) -> str | None:
    """Re-sign a real cursor moved to `position`: the integer that marked the page end moves."""
    from parley.core.cursors import CursorCodec

    payload = cursor.split(".")[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    keys = [k for k, v in data.items() if isinstance(v, int) and v == page_end]
    if len(keys) != 1 or not isinstance(data, dict):
        return None
    data[keys[0]] = position
    return CursorCodec(secret).encode(data)


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
        moved = craft_cursor(cursor, secret, int(size) // 2, 20) if cursor else None
        if moved:
            middle = f"{base}&cursor={moved}"
            status, answer = client.call(stack.parley.base_url, "GET", middle, token=token)
            if status == 200 and answer["data"]["items"]:
                paths["middle"] = middle
        loads[size] = {
            pos: Load((("GET", p, ""),), token, connections=connections) for pos, p in paths.items()
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


# ------------------------------------------------------------------ logins


def hash_seconds(cpus: str | None) -> float:
    """One bcrypt verification at the default cost, timed alone on the server's CPU."""
    code = (
        "import time,statistics;"
        "from parley.core.passwords import hash_password_sync as h, verify_password_sync as v;"
        "s=h('quiet-harbour-lantern-1874',12);t=[];"
        'exec(\'for _ in range(5):\\n a=time.perf_counter();v("quiet-harbour-lantern-1874",s);'
        "t.append(time.perf_counter()-a)');print(statistics.median(t))"
    )
    argv = [sys.executable, "-c", code]
    if cpus:
        argv = ["taskset", "-c", cpus, *argv]
    return float(
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout
    )


def login_load(manifest: Manifest, connections: int) -> Load:
    body = json.dumps({"email": manifest.email, "password": manifest.password})
    return Load((("POST", f"{API}/auth/login", body),), connections=connections)


def measure_login(runner: Runner, stack: Stack, manifest: Manifest, cores: int) -> Result:
    """Logins per second against the bound the hash sets: cores / one hash's time."""
    seconds = hash_seconds(stack.cpus)
    load = login_load(manifest, connections=2 * cores)
    # Long enough for the profile's number of logins whatever a hash costs on this machine today.
    duration = max(
        runner.profile.login_duration, math.ceil(runner.profile.logins * seconds / cores) + 1
    )
    result = runner.run(stack.parley, load, duration)
    bound = cores / seconds
    out = {
        "hash_s": round(seconds, 4),
        "cores": cores,
        "bound_rps": round(bound, 2),
        "parley": result,
        "ratio": round(result["rps"] / bound, 3),
    }
    print(
        f"  login      {result['rps']} req/s vs bound {bound:.2f} (hash {seconds * 1000:.0f} ms)"
        f" ratio {out['ratio']} errors {result['non_2xx'] + result['socket_errors']}",
        flush=True,
    )
    return out


def contention(runner: Runner, stack: Stack, manifest: Manifest, token: str) -> Result:
    """p99 of /users/me alone, then while logins run at full speed beside it."""
    probe = Load((("GET", f"{API}/users/me", ""),), token, connections=4)
    seconds = runner.profile.contention_duration
    runner.warm(stack.parley, probe)
    alone = runner.run(stack.parley, probe, seconds)
    # Two logins in flight keep the server's one CPU busy hashing: "full speed".
    logins = wrk.start(
        runner.registry,
        stack.parley,
        login_load(manifest, connections=2),
        duration=seconds + 2,
        cpus=runner.load_cpus,
    )
    try:
        time.sleep(1.0)  # let the logins fill the thread pool first
        beside = runner.run(stack.parley, probe, seconds)
    finally:
        login_result = wrk.finish(runner.registry, logins)
    out = {
        "alone": alone,
        "with_logins": beside,
        "logins": login_result,
        "p99_ratio": round(beside["p99_ms"] / alone["p99_ms"], 3) if alone["p99_ms"] else None,
    }
    print(
        f"  contention /users/me p99 {alone['p99_ms']} ms alone, {beside['p99_ms']} ms beside "
        f"{login_result['rps']} logins/s -> x{out['p99_ratio']}",
        flush=True,
    )
    return out


def tail_latency(runner: Runner, stack: Stack, manifest: Manifest, token: str) -> Result:
    """p99/p50 at 64 connections."""
    out: Result = {}
    for ep in endpoints(manifest, token, 64):
        if ep.key not in ("me", "page"):
            continue
        runner.warm(stack.parley, ep.parley)
        result = runner.run(stack.parley, ep.parley)
        out[ep.key] = result | {"p99_over_p50": round(result["p99_ms"] / result["p50_ms"], 2)}
        print(
            f"  64 conns {ep.key}: p50 {result['p50_ms']} ms p99 {result['p99_ms']} ms "
            f"-> {out[ep.key]['p99_over_p50']}",
            flush=True,
        )
    return out


def soak(runner: Runner, stack: Stack, manifest: Manifest, token: str) -> Result:
    """A mixed load until the checkpoints of requests served; RSS of each worker at each."""
    eps = {e.key: e for e in endpoints(manifest, token, runner.profile.connections)}
    mix = eps["me"].parley.requests + eps["page"].parley.requests + eps["sellers"].parley.requests
    mix += eps["post"].parley.requests[:4]
    load = Load(mix, token, connections=runner.profile.connections)
    checkpoints: list[Result] = []
    runs: list[Result] = []
    rate = 0.0
    started = time.monotonic()
    targets = runner.profile.soak_checkpoints
    for index, target in enumerate(targets):
        # Bounded: each checkpoint gets its share of the soak's time, reached or not.
        deadline = started + runner.profile.soak_seconds * (index + 1) / len(targets)
        while stack.parley.served < target and (left := deadline - time.monotonic()) >= 1:
            wanted = (target - stack.parley.served) / rate if rate else 3
            result = runner.run(stack.parley, load, max(1, min(30, round(min(wanted, left)))))
            runs.append(result)
            rate = max(result["rps"], 1.0)
        checkpoints.append(
            {
                "target": target,
                "served": stack.parley.served,
                "reached": stack.parley.served >= target,
                "workers": stack.parley.memory(),
            }
        )
        print(
            f"  soak at {stack.parley.served} requests (target {target}): "
            + ", ".join(
                f"{w['vmrss_kb'] / 1024:.0f} MB (peak {w['vmhwm_kb'] / 1024:.0f})"
                for w in checkpoints[-1]["workers"]
            ),
            flush=True,
        )
    first, last = checkpoints[0]["workers"], checkpoints[-1]["workers"]
    growth = max(
        (b["vmrss_kb"] - a["vmrss_kb"]) / a["vmrss_kb"] for a, b in zip(first, last, strict=True)
    )
    return {
        "checkpoints": checkpoints,
        "growth": round(growth, 4),
        "load": aggregate(runs),
        "served": [c["served"] for c in checkpoints],
        "max_rss_mb": round(max(w["vmrss_kb"] for w in last) / 1024, 1),
        "max_hwm_mb": round(max(w["vmhwm_kb"] for w in last) / 1024, 1),
    }


def scaling_pair(runner: Runner, stack: Stack, manifest: Manifest, token: str) -> Result:
    """The throughput of one stack for the scaling comparison (me and a message page)."""
    out: Result = {}
    for ep in endpoints(manifest, token, runner.profile.connections):
        if ep.key in ("me", "page"):
            out[ep.key] = runner.compare(stack, ep.parley, ep.baseline)
            _say(f"{ep.key} {stack.workers}w", out[ep.key])
    return out


def with_connections(load: Load, connections: int) -> Load:
    return replace(load, connections=connections)
