"""Load beyond the plain endpoint runs: logins against the hash bound, latency beside logins,
tail latency at 64 connections, memory over a soak, and one stack's share of the scaling runs."""

import json
import math
import subprocess
import sys
import time

from bench import wrk
from bench.scenarios import Result, Runner, aggregate, compared, endpoints, say
from bench.seed_data import Manifest
from bench.stack import Stack
from bench.wrk import Load

API = "/api/v1"
# Measured at 64 connections and with 2 workers against 1: the kept page and the database's.
TAIL_KEYS = ("me", "page", "page_fresh")


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
    """p99 of /users/me alone, then while logins run at full speed beside it, in rounds: one
    run's p99 moves by half from run to run here, a drift between rounds touches both sides."""
    probe = Load((("GET", f"{API}/users/me", ""),), token, connections=4)
    seconds = runner.profile.contention_duration
    runner.warm(stack.parley, probe)
    alone: list[Result] = []
    beside: list[Result] = []
    logins: list[Result] = []
    for _ in range(runner.profile.contention_rounds):
        alone.append(runner.run(stack.parley, probe, seconds))
        # Two logins in flight keep the server's one CPU busy hashing: "full speed".
        running = wrk.start(
            runner.registry,
            stack.parley,
            login_load(manifest, connections=2),
            duration=seconds + 2,
            cpus=runner.load_cpus,
        )
        try:
            time.sleep(1.0)  # let the logins fill the thread pool first
            beside.append(runner.run(stack.parley, probe, seconds))
        finally:
            logins.append(wrk.finish(runner.registry, running))
    alone_medians, beside_medians = aggregate(alone), aggregate(beside)
    p99_alone, p99_beside = alone_medians["p99_ms"], beside_medians["p99_ms"]
    out: Result = {
        "alone": alone_medians,
        "with_logins": beside_medians,
        "logins": aggregate(logins),
        "alone_runs": alone,
        "with_logins_runs": beside,
        "p99_ratio": round(p99_beside / p99_alone, 3) if p99_alone else None,
    }
    print(
        f"  contention /users/me p99 {p99_alone} ms alone, {p99_beside} ms beside "
        f"{out['logins']['rps']} logins/s (medians, rounds: {len(alone)}) "
        f"-> x{out['p99_ratio']}",
        flush=True,
    )
    return out


def tail_latency(runner: Runner, stack: Stack, manifest: Manifest, token: str) -> Result:
    """p99/p50 at 64 connections."""
    out: Result = {}
    for ep in endpoints(manifest, token, 64):
        if ep.key not in TAIL_KEYS:
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
    # The checkpoints count the soak's own requests: the phases before it have already served
    # a few hundred thousand, and growth is only seen between two readings under this load.
    before = stack.parley.served
    targets = runner.profile.soak_checkpoints
    for index, target in enumerate(targets):
        # Bounded: each checkpoint gets its share of the soak's time, reached or not.
        deadline = started + runner.profile.soak_seconds * (index + 1) / len(targets)
        while stack.parley.served - before < target and (left := deadline - time.monotonic()) >= 1:
            wanted = (target - (stack.parley.served - before)) / rate if rate else 3
            result = runner.run(stack.parley, load, max(1, min(30, round(min(wanted, left)))))
            runs.append(result)
            rate = max(result["rps"], 1.0)
        served = stack.parley.served - before
        checkpoints.append(
            {
                "target": target,
                "served": served,
                "served_in_all": stack.parley.served,
                "reached": served >= target,
                "workers": stack.parley.memory(),
            }
        )
        print(
            f"  soak at {served} requests ({stack.parley.served} in all; target {target}): "
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


def scaling_rounds(
    runner: Runner, stacks: dict[str, Stack], manifest: Manifest, token: str
) -> dict[str, Result]:
    """Each stack's throughput for the scaling comparison, by endpoint, the stacks measured in
    turn within each round: this machine's speed moves by a quarter between runs seconds
    apart, and a drift then touches every stack alike instead of one of them."""
    out: dict[str, Result] = {name: {} for name in stacks}
    for ep in endpoints(manifest, token, runner.profile.connections):
        if ep.key not in TAIL_KEYS or ep.baseline is None:
            continue
        for stack in stacks.values():
            runner.warm(stack.baseline, ep.baseline)
            runner.warm(stack.parley, ep.parley)
        # Per stack: (Parley's runs, the baseline's).
        runs: dict[str, tuple[list[Result], list[Result]]] = {name: ([], []) for name in stacks}
        for _ in range(runner.profile.scaling_rounds):
            for name, stack in stacks.items():
                runs[name][1].append(runner.run(stack.baseline, ep.baseline))
                runs[name][0].append(runner.run(stack.parley, ep.parley))
        for name, (parley_runs, base_runs) in runs.items():
            out[name][ep.key] = compared(parley_runs, base_runs)
            say(f"{ep.key} {name}w", out[name][ep.key])
    return out
