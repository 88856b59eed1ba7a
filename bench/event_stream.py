"""The live event stream under load, against a real `parley serve` with Redis:

    python -m bench.event_stream                         # SQLite in a temporary directory
    python -m bench.event_stream --db postgresql://postgres@127.0.0.1:5432/parley_bench_stream
    python -m bench.event_stream --quick                 # tiny numbers, to check it runs

1. Delivery across workers: `parley serve --workers 2` with REDIS_URL. Set-up connections are
   opened until some are served by one worker (the poster) and some by the other (the
   listeners); which worker holds a connection is read from /proc (the worker process that owns
   the server side of the TCP connection), so the application needs no marker of its own.
   Text messages are posted open-loop at --rate per second for --seconds on the poster's
   connections; each listener records, per event, its receive time minus the event's
   `created_at` (both from this machine's clock; `created_at` is taken inside the post's
   transaction, so the figure includes the commit). Streams on the poster's own worker are
   measured too, for comparison.
2. Open streams on one worker: `parley serve --workers 1`, VmRSS of the worker before and after
   opening --streams streams, which must all stay open across at least one heartbeat
   (EVENT_STREAM_HEARTBEAT=--heartbeat) and all receive one event posted at the end.

The database named by --db is used as `parley serve` finds it (migrated if new); its rows are
left in place. Redis database --redis-db is flushed before each stack starts.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.sockets import owner

from bench import client
from bench.procs import Registry, Server, load_average, wait_ready
from bench.stack import new_secret, production_extras, start_parley

PASSWORD = "correct horse battery staple"


def vmrss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Connection:
    """One keep-alive HTTP/1.1 connection, for JSON requests, or for one event stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.local_port: int = writer.get_extra_info("sockname")[1]

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, method: str, path: str, token: str, body: object | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        await self.writer.drain()

    async def head(self) -> tuple[int, dict[str, str]]:
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    async def request(
        self, method: str, path: str, token: str, body: object | None = None
    ) -> tuple[int, Any]:
        await self.send(method, path, token, body)
        status, headers = await self.head()
        if headers.get("transfer-encoding") == "chunked":
            raw = b"".join([chunk async for chunk in self.chunks()])
        else:
            raw = await self.reader.readexactly(int(headers.get("content-length", 0)))
        return status, json.loads(raw) if raw else None

    async def chunks(self) -> Any:
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return
            data = await self.reader.readexactly(size + 2)
            yield data[:-2]

    def close(self) -> None:
        self.writer.close()


@dataclass
class Listener:
    """An open event stream: what it received, and when."""

    conn: Connection
    worker: int | None = None
    comments: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    events: int = 0
    ended: bool = False
    task: asyncio.Task[None] | None = None

    async def open(self, path: str, token: str) -> None:
        await self.conn.send("GET", path, token)
        status, headers = await self.conn.head()
        if status != 200 or "text/event-stream" not in headers.get("content-type", ""):
            raise RuntimeError(f"stream answered {status} {headers}")

    async def read(self, on_event: Callable[[dict[str, Any], float], None] | None = None) -> None:
        buffer = b""
        try:
            async for chunk in self.conn.chunks():
                received = time.time()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.startswith(b":"):
                        self.comments.append(received)
                    elif line.startswith(b"data:"):
                        event = json.loads(line[5:])
                        self.events += 1
                        created = datetime.fromisoformat(event["created_at"]).timestamp()
                        self.latencies_ms.append((received - created) * 1000)
                        if on_event:
                            on_event(event, received)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self.ended = True


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def set_up_user(base_url: str) -> tuple[str, str]:
    """Register a fresh user, log in, create a chat session: (token, messages path)."""
    email = f"stream-{time.time_ns()}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    status, body = await asyncio.to_thread(
        client.call, base_url, "POST", "/api/v1/auth/register", body=credentials
    )
    if status != 201:
        raise RuntimeError(f"register failed: {status} {str(body)[:300]}")
    token = (await asyncio.to_thread(client.login, base_url, email, PASSWORD))["access_token"]
    status, body = await asyncio.to_thread(
        client.call, base_url, "POST", "/api/v1/sessions", token=token, body={"title": "Bench"}
    )
    if status != 201:
        raise RuntimeError(f"session failed: {status} {str(body)[:300]}")
    return token, f"/api/v1/sessions/{body['data']['id']}/messages"


async def wait_until(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def delivery(server: Server, *, rate: int, seconds: int, per_worker: int) -> dict[str, Any]:
    """Phase 1: post at `rate`/s on one worker, listen on both."""
    token, path = await set_up_user(server.base_url)
    pids = server.worker_pids
    posters: list[Connection] = []
    listeners: dict[int, list[Listener]] = {pid: [] for pid in pids}
    poster_pid: int | None = None
    for _ in range(400):
        if len(posters) >= 8 and all(len(ls) >= per_worker for ls in listeners.values()):
            break
        conn = await Connection.open(server.port)
        status, _ = await conn.request("GET", "/api/v1/users/me", token)
        pid = owner(pids, server.port, conn.local_port)
        if status != 200 or pid is None:
            raise RuntimeError(f"set-up request answered {status}; worker {pid}")
        if poster_pid is None:
            poster_pid = pid
        if pid == poster_pid and len(posters) < 8:
            posters.append(conn)
        elif len(listeners[pid]) < per_worker:
            listener = Listener(conn, pid)
            await listener.open("/api/v1/events/stream?types=message.created", token)
            listener.task = asyncio.create_task(listener.read())
            listeners[pid].append(listener)
        else:
            conn.close()
    else:
        raise RuntimeError("could not spread connections over both workers")
    everyone = [listener for group in listeners.values() for listener in group]
    await wait_until(lambda: all(listener.comments for listener in everyone), 10)

    free: asyncio.Queue[Connection] = asyncio.Queue()
    for conn in posters:
        free.put_nowait(conn)
    failures: list[int] = []
    late: list[float] = []

    async def post(index: int, due: float) -> None:
        conn = await free.get()
        late.append(time.monotonic() - due)
        try:
            status, _ = await conn.request("POST", path, token, {"content": f"bench {index}"})
            if status != 201:
                failures.append(status)
        finally:
            free.put_nowait(conn)

    total = rate * seconds
    load_before = load_average()
    started = time.monotonic()
    tasks = []
    for index in range(total):
        due = started + index / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(post(index, due)))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    load_after = load_average()
    posted = total - len(failures)
    await wait_until(lambda: all(listener.events >= posted for listener in everyone), 15)
    for listener in everyone:
        listener.conn.close()
    await asyncio.gather(*(listener.task for listener in everyone if listener.task))

    def summary(group: list[Listener]) -> dict[str, Any]:
        values = [v for listener in group for v in listener.latencies_ms]
        return {
            "streams": len(group),
            "events_received": [listener.events for listener in group],
            "p50_ms": percentile(values, 50),
            "p90_ms": percentile(values, 90),
            "p99_ms": percentile(values, 99),
            "max_ms": max(values, default=float("nan")),
            # Every percentile, 0-100: enough to draw the distribution again from the JSON.
            "percentiles_ms": [percentile(values, q) for q in range(101)],
        }

    assert poster_pid is not None
    other = next(pid for pid in pids if pid != poster_pid)
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "posts": total,
        "post_failures": len(failures),
        "achieved_rate_per_s": total / elapsed,
        "post_start_lag_p99_ms": percentile(late, 99) * 1000,
        "other_worker": summary(listeners[other]),
        "same_worker": summary(listeners[poster_pid]),
        "load_average": [load_before, load_after],
    }


async def open_streams(server: Server, *, streams: int, heartbeat: int) -> dict[str, Any]:
    """Phase 2: `streams` streams on a one-worker server, RSS before and after."""
    token, path = await set_up_user(server.base_url)
    pid = server.worker_pids[0]
    # Warm the worker up: one stream opened and closed, a few ordinary requests.
    warm = Listener(await Connection.open(server.port))
    await warm.open("/api/v1/events/stream", token)
    warm.conn.close()
    for _ in range(20):
        await asyncio.to_thread(
            client.call, server.base_url, "GET", "/api/v1/users/me", token=token
        )
    await asyncio.sleep(1)
    rss_before = vmrss_kb(pid)

    listeners: list[Listener] = []

    async def one() -> Listener:
        listener = Listener(await Connection.open(server.port))
        await listener.open("/api/v1/events/stream?types=message.created", token)
        listener.task = asyncio.create_task(listener.read())
        return listener

    opening = time.monotonic()
    for start in range(0, streams, 50):
        listeners += await asyncio.gather(*(one() for _ in range(min(50, streams - start))))
    opened_in = time.monotonic() - opening
    await wait_until(lambda: all(listener.comments for listener in listeners), 30)
    opened_at = time.time()
    await asyncio.sleep(1)
    rss_open = vmrss_kb(pid)
    # Every stream must see a keep-alive after it opened: wait past one heartbeat (and then some).
    await wait_until(
        lambda: all(len(listener.comments) >= 2 for listener in listeners), heartbeat * 3 + 10
    )
    heartbeats = sum(len(listener.comments) >= 2 for listener in listeners)
    status, answer = await asyncio.to_thread(
        client.call, server.base_url, "POST", path, token=token, body={"content": "to all"}
    )
    await wait_until(lambda: all(listener.events >= 1 for listener in listeners), 30)
    delivered = sum(listener.events >= 1 for listener in listeners)
    still_open = sum(not listener.ended for listener in listeners)
    rss_after = vmrss_kb(pid)
    held = time.time() - opened_at
    for listener in listeners:
        listener.conn.close()
    await asyncio.gather(*(listener.task for listener in listeners if listener.task))
    return {
        "streams": streams,
        "opened_in_s": opened_in,
        "heartbeat_s": heartbeat,
        "held_open_s": held,
        "rss_before_mb": rss_before / 1024,
        "rss_open_mb": rss_open / 1024,
        "rss_after_event_mb": rss_after / 1024,
        "extra_rss_mb": (max(rss_open, rss_after) - rss_before) / 1024,
        "streams_with_heartbeat": heartbeats,
        "streams_still_open": still_open,
        "streams_given_the_event": delivered,
        "post_status": status,
        "post_answer": answer if status != 201 else None,
        "load_average": load_average(),
    }


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-stream-"))
    url = args.db or f"sqlite:///{workdir / 'bench.db'}"
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    secret = new_secret()
    extras = production_extras(workdir, redis=False) | {
        "REDIS_URL": redis_url,
        "EVENT_STREAM_HEARTBEAT": str(args.heartbeat),
    }
    registry = Registry()
    results: dict[str, Any] = {
        "database": urlsplit(url).scheme,
        "cores": os.cpu_count(),
        "load_average_at_start": load_average(),
    }
    try:
        if "delivery" in args.phases:
            flush_redis(redis_url)
            server = start_parley(
                registry,
                database_url=url,
                workers=2,
                cpus=None,
                workdir=workdir / "two",
                secret=secret,
                extras=extras,
            )
            wait_ready(server)
            try:
                results["delivery"] = asyncio.run(
                    delivery(server, rate=args.rate, seconds=args.seconds, per_worker=4)
                )
            finally:
                registry.stop(server.proc)
        if "streams" in args.phases:
            flush_redis(redis_url)
            # Every open stream is a connection: leave room for ordinary requests beside them.
            extras["MAX_CONNECTIONS"] = str(max(1000, args.streams + 100))
            server = start_parley(
                registry,
                database_url=url,
                workers=1,
                cpus=None,
                workdir=workdir / "one",
                secret=secret,
                extras=extras,
            )
            wait_ready(server)
            try:
                results["streams"] = asyncio.run(
                    open_streams(server, streams=args.streams, heartbeat=args.heartbeat)
                )
            finally:
                registry.stop(server.proc)
    finally:
        registry.stop_all()
    return results


def plot(results: dict[str, Any], path: Path) -> None:
    """Delivery latency by percentile (both workers) and the RSS of the open-streams phase."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (latency, memory) = plt.subplots(1, 2, figsize=(12, 4.5))
    delivery = results.get("delivery")
    if delivery:
        for key, label in (("other_worker", "other worker"), ("same_worker", "poster's worker")):
            values = delivery[key]["percentiles_ms"]
            latency.plot(range(len(values)), values, label=label)
        latency.axhline(20, color="#888", linestyle=":", label="p50 target (20 ms)")
        latency.axhline(150, color="#888", linestyle="--", label="p99 target (150 ms)")
        latency.set_yscale("log")
        latency.set_xlabel("percentile")
        latency.set_ylabel("post → stream (ms)")
        rate = delivery["achieved_rate_per_s"]
        latency.set_title(f"Delivery at {rate:.0f} posts/s, 2 workers")
        latency.grid(alpha=0.3)
        latency.legend(fontsize=8)
    streams = results.get("streams")
    if streams:
        labels = ["before", f"{streams['streams']} open", "after one event"]
        values = [streams["rss_before_mb"], streams["rss_open_mb"], streams["rss_after_event_mb"]]
        memory.bar(labels, values, color=["#b0b0b0", "#2b6cb0", "#2b6cb0"])
        memory.axhline(
            streams["rss_before_mb"] + 60, color="#888", linestyle="--", label="budget (+60 MB)"
        )
        memory.set_ylabel("worker RSS (MB)")
        memory.set_title("Open streams on one worker")
        memory.grid(axis="y", alpha=0.3)
        memory.legend(fontsize=8)
    fig.suptitle(f"Event stream, {results['database']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.event_stream", description=__doc__)
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    parser.add_argument("--rate", type=int, default=200, help="posts per second")
    parser.add_argument("--seconds", type=int, default=20, help="how long to post")
    parser.add_argument("--streams", type=int, default=1000, help="streams to open on one worker")
    parser.add_argument("--heartbeat", type=int, default=2, help="EVENT_STREAM_HEARTBEAT, s")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database of the run")
    parser.add_argument("--only", choices=["delivery", "streams"], action="append", dest="phases")
    parser.add_argument("--quick", action="store_true", help="tiny numbers: check that it runs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--plot", type=Path, help="also draw the figures into this PNG")
    args = parser.parse_args()
    # A SIGTERM (say, from `timeout`) unwinds like Ctrl-C, so every started process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.phases = args.phases or ["delivery", "streams"]
    if args.quick:
        args.rate, args.seconds, args.streams = 20, 2, 40
    results = run(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.plot:
        plot(results, args.plot)
    if "delivery" in results:
        other = results["delivery"]["other_worker"]
        print(
            f"delivery to the other worker: p50 {other['p50_ms']:.1f} ms, "
            f"p99 {other['p99_ms']:.1f} ms (targets 20 / 150 ms)"
        )
    if "streams" in results:
        streams = results["streams"]
        print(
            f"{streams['streams']} streams: +{streams['extra_rss_mb']:.1f} MB RSS "
            f"(target 60 MB), {streams['streams_with_heartbeat']} saw a heartbeat, "
            f"{streams['streams_still_open']} still open"
        )


if __name__ == "__main__":
    main()
