"""Webhook deliveries under faults, against real processes:

    python -m bench.webhook_faults --db postgresql://postgres@127.0.0.1:5432/parley_bench_hooks
    python -m bench.webhook_faults --quick               # tiny numbers, to check it runs

`parley serve` and two `parley worker` processes share QUEUE_URL (Redis database --redis-db,
flushed first). A receiver on the loopback, in this process, answers 500 to a random --fail
share of the attempts and 200 to the rest, and remembers every webhook-id it acknowledged.
--events text messages are posted to a session watched by one webhook; once a third of them
have been acknowledged, one worker is SIGKILLed and started again. The run ends when every
event has been acknowledged (or after --deadline seconds); then the delivery log is read
through the API. With WEBHOOK_RETRY_SCHEDULE=--schedule, 14 retries of 1-4 s (15 attempts:
0.3^15 ≈ 1.4·10^-8 per event, so about one run of 10,000 events in 7,000 may see one exhaust
them; decision 176), every event must arrive. The figures include when a share of the events had
been acknowledged and the attempts per second until 99 % were (the throughput, free of the
wait of the few whose attempt was in flight in the killed worker).
"""

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import client
from bench.procs import Registry, Server, _cpu, load_average, wait_ready
from bench.stack import PARLEY, new_secret, parley_env, production_extras, start_parley

PASSWORD = "correct horse battery staple"
# 14 retries, 36 s in all (decision 176).
SCHEDULE = "1s,1s,1s,2s,2s,2s,2s,3s,3s,3s,4s,4s,4s,4s"


class Receiver:
    """Counts attempts and acknowledged webhook-ids; fails a random share of the attempts."""

    def __init__(self, fail: float, seed: int) -> None:
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        self.fail = fail
        self.attempts = 0
        self.failed = 0
        self.acknowledged: set[str] = set()
        self.attempted_at: list[float] = []  # time.monotonic() of every attempt
        self.acknowledged_at: list[float] = []  # of every first acknowledgement
        self.duplicates = 0  # acknowledged again after an earlier 2xx (at-least-once delivery)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                webhook_id = self.headers.get("webhook-id", "")
                with receiver.lock:
                    now = time.monotonic()
                    receiver.attempts += 1
                    receiver.attempted_at.append(now)
                    failing = receiver.random.random() < receiver.fail
                    if failing:
                        receiver.failed += 1
                    elif webhook_id in receiver.acknowledged:
                        receiver.duplicates += 1
                    else:
                        receiver.acknowledged.add(webhook_id)
                        receiver.acknowledged_at.append(now)
                self.send_response(500 if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def pace(self, started: float, events: int) -> dict[str, Any]:
        """When a share of the events had been acknowledged (seconds from the first post), and
        the attempts per second until 99 % were: the throughput, free of the last few's wait."""
        with self.lock:
            acked = sorted(self.acknowledged_at)
            attempted = sorted(self.attempted_at)
        marks: dict[str, float | None] = {}
        for share in (50, 90, 99, 100):
            needed = max(1, -(-events * share // 100))
            at = acked[needed - 1] if len(acked) >= needed else None
            marks[f"{share}%"] = None if at is None else round(at - started, 1)
        until = marks["99%"]
        rate = None
        if until:
            rate = round(sum(t - started <= until for t in attempted) / until, 1)
        return {"acknowledged_by_s": marks, "attempts_per_s_until_99%": rate}


def start_worker(registry: Registry, env: dict[str, str], workdir: Path, name: str) -> Any:
    log = (workdir / f"{name}.log").open("ab")
    return registry.spawn([PARLEY, "worker"], cwd=workdir, stdout=log, stderr=log, env=env)


def deliveries(server: Server, token: str, webhook_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        path = f"/api/v1/webhooks/{webhook_id}/deliveries?limit=100"
        status, body = client.call(
            server.base_url, "GET", path + (f"&cursor={cursor}" if cursor else ""), token=token
        )
        if status != 200:
            raise RuntimeError(f"delivery log answered {status}: {str(body)[:300]}")
        found += body["data"]["items"]
        cursor = body["data"]["next_cursor"]
        if not cursor:
            return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    import redis

    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-hooks-"))
    url = args.db or f"sqlite:///{workdir / 'bench.db'}"
    queue_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    redis.Redis.from_url(queue_url).flushdb()
    secret = new_secret()
    extras = production_extras(workdir, redis=False) | {
        "REDIS_URL": queue_url,
        "QUEUE_URL": queue_url,
        "QUEUE_NAME": "parley-bench-hooks",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WEBHOOK_RETRY_SCHEDULE": args.schedule,
        "JOB_LEASE": str(args.lease),
    }
    receiver = Receiver(args.fail, args.seed)
    registry = Registry()
    try:
        server = start_parley(
            registry,
            database_url=url,
            workers=1,
            cpus=None,
            workdir=workdir,
            secret=secret,
            extras=extras,
        )
        wait_ready(server)
        env = parley_env(url, workdir, secret, extras)
        workers = [start_worker(registry, env, workdir, f"worker-{n}") for n in (1, 2)]
        email = f"hooks-{time.time_ns()}@example.com"
        client.call(
            server.base_url,
            "POST",
            "/api/v1/auth/register",
            body={"email": email, "password": PASSWORD},
        )
        token = client.login(server.base_url, email, PASSWORD)["access_token"]
        _, created = client.call(
            server.base_url, "POST", "/api/v1/sessions", token=token, body={"title": "Hooks"}
        )
        path = f"/api/v1/sessions/{created['data']['id']}/messages"
        status, hook = client.call(
            server.base_url,
            "POST",
            "/api/v1/webhooks",
            token=token,
            body={
                "url": f"http://127.0.0.1:{receiver.port}/hook",
                "events": ["message.created"],
            },
        )
        if status != 201:
            raise RuntimeError(f"webhook answered {status}: {str(hook)[:300]}")
        webhook_id = hook["data"]["id"]
        load_before = load_average()
        started = time.monotonic()

        def post(index: int) -> int:
            status, _ = client.call(
                server.base_url, "POST", path, token=token, body={"content": f"hook {index}"}
            )
            return status

        killed_at = restarted_at = None
        killed_cpu = 0.0
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(post, range(args.events)))
            posted_in = time.monotonic() - started
            deadline = started + args.deadline
            while receiver.count() < args.events and time.monotonic() < deadline:
                if killed_at is None and receiver.count() >= args.events // 3:
                    killed_cpu = _cpu(workers[0].pid)
                    os.killpg(workers[0].pid, signal.SIGKILL)  # no chance to finish a job
                    workers[0].wait(timeout=10)
                    registry.forget(workers[0])
                    killed_at = receiver.count()
                    workers[0] = start_worker(registry, env, workdir, "worker-1")
                    restarted_at = time.monotonic() - started
                time.sleep(0.2)
        elapsed = time.monotonic() - started
        # User+system CPU of the processes (the killed worker's as of its kill).
        worker_cpu = killed_cpu + sum(_cpu(worker.pid) for worker in workers)
        server_cpu = server.cpu_seconds()
        log = deliveries(server, token, webhook_id)
        by_status: dict[str, int] = {}
        for item in log:
            by_status[item["status"]] = by_status.get(item["status"], 0) + 1
        attempts = [item["attempts"] for item in log]
        return {
            "database": urlsplit(url).scheme,
            "events": args.events,
            "posts_created": statuses.count(201),
            "posted_in_s": posted_in,
            "all_acknowledged_in_s": elapsed,
            **receiver.pace(started, args.events),
            "cpu_s": {"server": round(server_cpu, 1), "workers": round(worker_cpu, 1)},
            "worker_cpu_ms_per_attempt": round(1000 * worker_cpu / max(receiver.attempts, 1), 2),
            "acknowledged": receiver.count(),
            "lost": args.events - receiver.count(),
            "receiver_attempts": receiver.attempts,
            "receiver_500s": receiver.failed,
            "duplicates_after_ack": receiver.duplicates,
            "worker_killed_after_acks": killed_at,
            "worker_restarted_at_s": restarted_at,
            "delivery_log": {
                "rows": len(log),
                "by_status": by_status,
                "attempts_total": sum(attempts),
                "retried_rows": sum(a > 1 for a in attempts),
                "max_attempts": max(attempts, default=0),
            },
            "fail_share": args.fail,
            "retry_schedule": args.schedule,
            "load_average": [load_before, load_average()],
        }
    finally:
        registry.stop_all()
        receiver.server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_faults", description=__doc__)
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--fail", type=float, default=0.3, help="share of attempts answered 500")
    parser.add_argument("--schedule", default=SCHEDULE, help="WEBHOOK_RETRY_SCHEDULE for the run")
    parser.add_argument("--lease", type=int, default=10, help="JOB_LEASE for the run, seconds")
    parser.add_argument("--deadline", type=int, default=600, help="give up after, seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--quick", action="store_true", help="tiny numbers: check that it runs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    # A SIGTERM (say, from `timeout`) unwinds like Ctrl-C, so every started process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.events = 60
    results = run(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
