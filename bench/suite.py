"""The whole suite for each database: seed, the pinned 1-worker stack, then 1 and 2 workers."""

import argparse
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import client, scenarios, seed, stress
from bench.procs import Registry, cpu_times, load_average
from bench.profiles import Profile
from bench.seed_data import Manifest, SeedSpec
from bench.stack import (
    Stack,
    new_secret,
    production_extras,
    redis_answers,
    running_stack,
)


class Phases:
    """Runs the chosen phases, timing each; a failing phase is recorded and the run goes on."""

    def __init__(
        self, chosen: set[str], timings: dict[str, float], steal: dict[str, float]
    ) -> None:
        self.chosen = chosen
        self.timings = timings
        self.steal = steal  # CPU seconds the hypervisor kept from the machine, by phase

    def __call__(
        self, target: dict[str, Any], name: str, label: str, fn: Callable[[], Any]
    ) -> None:
        if name not in self.chosen:
            return
        started = time.monotonic()
        stolen = cpu_times()[1]
        try:
            target[name] = fn()
        except Exception as exc:  # one broken route must not sink the whole run
            traceback.print_exc()
            target[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        finally:
            self.timings[label] = round(time.monotonic() - started, 1)
            self.steal[label] = round(cpu_times()[1] - stolen, 2)


@dataclass
class Context:
    """What every phase of one database needs."""

    args: argparse.Namespace
    profile: Profile
    registry: Registry
    workdir: Path
    phase: Phases
    db: str = ""
    url: str = ""
    secret: str = ""
    manifest: Manifest | None = None
    extras: dict[str, str] | None = None

    def stack(self, workers: int, cpus: str | None) -> Any:
        # A directory of its own, metrics included: two stacks may run at once.
        workdir = self.workdir / self.db / f"{workers}w"
        metrics = workdir / "metrics"
        metrics.mkdir(parents=True, exist_ok=True)
        return running_stack(
            self.registry,
            database=self.db,
            database_url=self.url,
            workers=workers,
            cpus=cpus,
            workdir=workdir,
            secret=self.secret,
            extras=(self.extras or {}) | {"PROMETHEUS_MULTIPROC_DIR": str(metrics)},
        )


def layouts() -> tuple[str | None, str | None, str | None]:
    """(server CPUs, load CPUs) of the pinned layout, and the CPUs of the scaling layout."""
    if (os.cpu_count() or 1) < 2:
        return None, None, None
    return "0", "1", "0,1"


def run(
    args: argparse.Namespace,
    profile: Profile,
    registry: Registry,
    workdir: Path,
    results: dict[str, Any],
) -> None:
    """Fill `results` as the run goes, so an interrupted run still leaves its figures."""
    timings: dict[str, float] = {}
    steal: dict[str, float] = {}
    results["meta"]["phase_seconds"] = timings
    results["meta"]["phase_steal_s"] = steal
    phase = Phases(set(args.only.split(",")), timings, steal)
    started = time.monotonic()
    chosen = args.db or ",".join(profile.databases)
    redis = not args.no_redis and redis_answers()
    extras = production_extras(workdir, redis=redis)
    results["meta"]["server_env_extras"] = extras
    print(f"production extras: {extras}", flush=True)
    for db in [d.strip() for d in chosen.split(",") if d.strip()]:
        ctx = Context(args, profile, registry, workdir, phase, db=db, extras=extras)
        run_database(ctx, results)
        print(f"== {db} done at {time.monotonic() - started:.0f}s", flush=True)
    results["meta"]["elapsed_s"] = round(time.monotonic() - started, 1)
    results["meta"]["load_average_end"] = load_average()


def run_database(ctx: Context, results: dict[str, Any]) -> None:
    print(f"== {ctx.db} (load average {load_average()})", flush=True)
    started = time.monotonic()
    if ctx.db == "sqlite":
        ctx.url, ctx.manifest, seeded = seed.prepare_sqlite(
            ctx.args.data_dir, SeedSpec(), fresh=ctx.args.fresh
        )
    elif ctx.db == "postgresql":
        ctx.url, ctx.manifest, seeded = seed.prepare_postgres(
            ctx.args.pg_database, ctx.args.data_dir, SeedSpec(), fresh=ctx.args.fresh
        )
    else:
        raise SystemExit(f"unknown database {ctx.db!r}")
    ctx.phase.timings[f"{ctx.db}/seed"] = round(time.monotonic() - started, 1)
    results["seed"][ctx.db] = seeded
    ctx.secret = new_secret()
    out: dict[str, Any] = {"pinned": {}, "scaling": {}}
    results["databases"][ctx.db] = out
    server_cpus, load_cpus, both = layouts()
    with ctx.stack(1, server_cpus) as stack:
        print(f"-- 1 worker, servers on CPU {server_cpus}, wrk on CPU {load_cpus}", flush=True)
        pinned_phases(ctx, stack, scenarios.Runner(ctx.registry, ctx.profile, load_cpus), out)
    if ctx.profile.scaling and not ctx.args.no_scaling and both:
        ctx.phase(out, "scaling", f"{ctx.db}/scaling", lambda: scale(ctx, both))


def pinned_phases(
    ctx: Context, stack: Stack, runner: scenarios.Runner, out: dict[str, Any]
) -> None:
    """Everything measured on one worker pinned to its own CPU."""
    manifest = ctx.manifest
    assert manifest is not None
    token = client.login(stack.parley.base_url, manifest.email, manifest.password)["access_token"]
    pinned = out["pinned"]
    pinned["load_average"] = load_average()
    plan: list[tuple[str, Callable[[], Any]]] = [
        ("endpoints", lambda: scenarios.measure_endpoints(runner, stack, manifest, token)),
        ("deep", lambda: scenarios.deep_pages(runner, stack, manifest, token, ctx.secret)),
        ("login", lambda: stress.measure_login(runner, stack, manifest, cores=1)),
        ("contention", lambda: stress.contention(runner, stack, manifest, token)),
        ("tail", lambda: stress.tail_latency(runner, stack, manifest, token)),
    ]
    if ctx.db in ctx.profile.soak_databases:
        plan.append(("soak", lambda: stress.soak(runner, stack, manifest, token)))
    for name, fn in plan:
        ctx.phase(pinned, name, f"{ctx.db}/{name}", fn)
    pinned["memory"] = {
        "parley": stack.parley.memory(),
        "baseline": stack.baseline.memory(),
        "parley_requests": stack.parley.served,
    }


def scale(ctx: Context, cpus: str) -> dict[str, Any]:
    """Throughput of 1 worker and of 2, servers and wrk sharing every CPU: both stacks run at
    once and are measured in turn (stress.scaling_rounds)."""
    manifest = ctx.manifest
    assert manifest is not None
    with ctx.stack(1, cpus) as one, ctx.stack(2, cpus) as two:
        print(f"-- 1 worker and 2 workers in turn, servers and wrk on CPUs {cpus}", flush=True)
        runner = scenarios.Runner(ctx.registry, ctx.profile, cpus)
        token = client.login(one.parley.base_url, manifest.email, manifest.password)
        scaled = stress.scaling_rounds(
            runner, {"1": one, "2": two}, manifest, token["access_token"]
        )
        scaled["2"]["login"] = stress.measure_login(runner, two, manifest, cores=2)
        for name, stack in (("1", one), ("2", two)):
            scaled[name]["memory"] = {
                "parley": stack.parley.memory(),
                "baseline": stack.baseline.memory(),
            }
        return scaled
