"""Profile one endpoint of a running Parley worker with py-spy while wrk loads it.

    python -m bench.profile page --db sqlite --seconds 15
    python -m bench.profile me,sellers --db postgresql

Writes bench/results/profile-<endpoint>-<db>.txt: the hottest functions by own time and by
inclusive time, and .collapsed: py-spy's collapsed stacks (for speedscope or flamegraph.pl).
Needs ptrace rights (root here). py-spy is a bench tool only (bench/requirements.txt).
"""

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import client, scenarios, seed, stress, wrk
from bench.procs import Registry
from bench.seed_data import SeedSpec
from bench.stack import new_secret, production_extras, redis_answers, running_stack

RESULTS = Path(__file__).resolve().parent / "results"
PY_SPY = str(Path(sys.executable).parent / "py-spy")


# Leaves where a thread waits for work: py-spy does not always see these threads as idle.
IDLE_LEAVES = (
    "aiosqlite/core.py:59)",
    "threading.py:327)",
    "threading.py:331)",
    "selectors.py:468)",
)
SKIPPED_FRAMES = (
    "typer",
    "click",
    "uvicorn/main.py",
    "uvicorn/_compat.py",
    "uvicorn/server.py",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "(parley:",
    "parley/cli.py",
)


def summarise(collapsed: Path, top: int = 25) -> str:
    """Own and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue  # a frame name with a line break in it: skip the fragment
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not any(s in f for s in SKIPPED_FRAMES)]
        if frames and frames[-1].endswith(IDLE_LEAVES):
            idle += count
            continue
        total += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} busy samples ({idle} idle-wait samples dropped)", "", "own time by package:"]
    lines += [f"  {100 * n / total:5.1f}%  {p}" for p, n in _by_package(own).most_common(top)]
    lines += ["", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


def _by_package(own: collections.Counter[str]) -> collections.Counter[str]:
    """Own time summed per top-level package (greenlets split stacks; leaves stay exact)."""
    packages: collections.Counter[str] = collections.Counter()
    for frame, count in own.items():
        where = frame.rsplit(" (", 1)[-1].split(":")[0]
        parts = where.split("/")
        if "parley" in parts:
            name = "/".join(parts[parts.index("parley") : parts.index("parley") + 2])
        else:
            name = parts[0] if len(parts) > 1 else f"stdlib {where}"
        packages[name] += count
    return packages


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("endpoints", help="me,page,post,sellers,login,refresh")
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "parley-bench"
    )
    args = parser.parse_args()
    if not Path(PY_SPY).exists():
        print("py-spy missing: pip install -r bench/requirements.txt", file=sys.stderr)
        return 1
    if args.db == "sqlite":
        url, manifest, _ = seed.prepare_sqlite(args.data_dir, SeedSpec(), fresh=False)
    else:
        url, manifest, _ = seed.prepare_postgres(
            "parley_bench", args.data_dir, SeedSpec(), fresh=False
        )
    registry = Registry()
    workdir = Path(tempfile.mkdtemp(prefix="parley-profile-"))
    RESULTS.mkdir(exist_ok=True)
    try:
        with running_stack(
            registry,
            database=args.db,
            database_url=url,
            workers=1,
            cpus="0",
            workdir=workdir,
            secret=new_secret(),
            extras=production_extras(workdir, redis=redis_answers()),
        ) as stack:
            token = client.login(stack.parley.base_url, manifest.email, manifest.password)[
                "access_token"
            ]
            loads = {e.key: e.parley for e in scenarios.endpoints(manifest, token, 16)}
            loads["login"] = stress.login_load(manifest, 2)
            for key in args.endpoints.split(","):
                profile_one(registry, stack, loads[key], key, args)
    finally:
        registry.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def profile_one(registry: Registry, stack, load, key: str, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    stem = RESULTS / f"profile-{key}-{args.db}"
    running = wrk.start(registry, stack.parley, load, duration=args.seconds + 2, cpus="1")
    try:
        base = [
            PY_SPY,
            "record",
            "-p",
            str(stack.parley.worker_pids[0]),
            "-r",
            str(args.rate),
            "-d",
            str(args.seconds),
            "--nonblocking",
            *(["--gil"] if args.gil else []),
        ]
        subprocess.run(
            [*base, "-f", "raw", "-o", f"{stem}.collapsed"], check=True, capture_output=True
        )
    finally:
        result = wrk.finish(registry, running)
    text = f"{key} on {args.db}: {result['rps']} req/s, p50 {result['p50_ms']} ms\n" + summarise(
        Path(f"{stem}.collapsed")
    )
    Path(f"{stem}.txt").write_text(text)
    print(text[:6000])


if __name__ == "__main__":
    sys.exit(main())
