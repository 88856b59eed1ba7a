"""`python -m bench`: seed, start Parley and the baseline, load them, report.

python -m bench                 # standard profile (about 15 minutes), SQLite and PostgreSQL
python -m bench --quick         # about 2-3 minutes, smoke figures
python -m bench --db sqlite     # one database only
python -m bench --publish       # also copy the figures into docs/
python -m bench publish [FILE]  # publish a chosen results file (default: the newest)
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, seed, suite
from bench.procs import Registry, load_average
from bench.profiles import PROFILES, Profile
from bench.targets import evaluate

PHASES = ("endpoints", "deep", "login", "contention", "tail", "soak", "scaling")
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = Path(tempfile.gettempdir()) / "parley-bench"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", default="run", choices=["run", "publish"])
    parser.add_argument("file", nargs="?", help="results file to publish (publish only)")
    parser.add_argument("--quick", action="store_true", help="the ~2-minute smoke profile")
    parser.add_argument("--db", help="sqlite,postgresql (default: both; --quick: sqlite)")
    parser.add_argument("--pg-database", default="parley_bench", help="bench database to create")
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA, help="seeded SQLite and work files"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="re-seed even when the seed is current"
    )
    parser.add_argument(
        "--drop-db", action="store_true", help="drop the PostgreSQL bench database at the end"
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip the 2-workers-vs-1 runs")
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="run Parley without REDIS_URL (default: Redis db 15 on the loopback when it answers)",
    )
    parser.add_argument("--publish", action="store_true", help="copy the figures into docs/")
    parser.add_argument(
        "--only", default=",".join(PHASES), help=f"phases to run (default all): {','.join(PHASES)}"
    )
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.command == "publish":
        files = sorted(RESULTS.glob("*.json"))
        chosen = Path(args.file) if args.file else (files[-1] if files else None)
        if chosen is None:
            print("no results to publish; run `python -m bench` first", file=sys.stderr)
            return 1
        report.publish(chosen)
        return 0
    profile = PROFILES["quick" if args.quick else "standard"]
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    registry = Registry()
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-run-"))
    results: dict[str, Any] = {"meta": meta(profile), "seed": {}, "databases": {}}
    interrupted = False
    try:
        suite.run(args, profile, registry, workdir, results)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping every process this run started", file=sys.stderr)
        interrupted = True
    finally:
        registry.stop_all()
        _keep_logs(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
        if args.drop_db:
            seed.drop_postgres(args.pg_database)
    results["targets"] = evaluate(results)
    if interrupted:
        results["meta"]["interrupted"] = True
    path = save(results)
    report.print_summary(results)
    print(f"results: {path}")
    if interrupted:
        return 130
    if args.publish:
        report.publish(path)
    return 0


def _keep_logs(workdir: Path) -> None:
    """Keep the servers' logs of the last run (errors show up there) in results/last-logs/."""
    target = RESULTS / "last-logs"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    for log in workdir.rglob("*.log"):
        shutil.copyfile(log, target / f"{log.parent.name}-{log.name}")


def meta(profile: Profile) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=report.REPO
    ).stdout.strip()
    return {
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "profile": profile.name,
        "commit": commit,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_start": load_average(),
        "layout": {
            "pinned": "Parley and the baseline on CPU 0 (1 worker each), wrk on CPU 1; "
            "PostgreSQL unpinned",
            "scaling": "servers and wrk all on CPUs 0-1, the same for 1 and 2 workers",
        },
    }


def save(results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = results["meta"]["started"].replace(":", "").replace("-", "")
    path = RESULTS / f"{stamp}-{results['meta']['profile']}.json"
    path.write_text(json.dumps(results, indent=1))
    report.plot(results, path.with_suffix(".png"))
    return path


if __name__ == "__main__":
    sys.exit(main())
