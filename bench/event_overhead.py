"""What the event log adds to posting a text message: a micro benchmark of the post path.

    python -m bench.event_overhead                      # SQLite in a temporary directory
    python -m bench.event_overhead --db postgresql://postgres@127.0.0.1:5432/parley_bench_events
    python -m bench.event_overhead --db mysql://root@127.0.0.1:3306/parley_bench_events

The real application runs in this process (every middleware, the lean text post, a real
database) behind httpx's ASGI transport, one post at a time. Short rounds with the event write
and without it alternate, so drift in the machine's load falls on both alike; the figures are
the ratios of the medians of the per-post times, wall-clock and this process's CPU time (the
CPU figure is the steadier on a busy machine; on SQLite it holds the database's work too, on
PostgreSQL and MariaDB only the client's). The variant without events exists only here:
it skips the event's lock and insert (on PostgreSQL it runs the same statement minus its
`logged` part), and keeps the single rendering of the message, which the response needs anyway.
The database named by --db is emptied and re-created.
"""

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import parley.chats.repository as chats_repository
import parley.db.fast as fast
import parley.models  # noqa: F401 - registers the tables
from parley.core.config import Settings
from parley.db.base import Base
from parley.db.engine import create_database
from parley.events.repository import EventRows
from parley.main import create_app

PASSWORD = "correct horse battery staple"
WITH_EVENTS_SQL = chats_repository._POST_POSTGRESQL
# The same statement without the event: `rendered` is selected instead of `logged`.
WITHOUT_EVENTS_SQL = re.sub(
    r"\), logged AS \(.*?RETURNING data\n\)\n"
    r"SELECT locked.user_id, logged.data FROM locked LEFT JOIN logged ON true",
    ")\nSELECT locked.user_id, rendered.data FROM locked LEFT JOIN rendered ON true",
    WITH_EVENTS_SQL,
    flags=re.DOTALL,
)
_original_append = EventRows.append


async def _skip_event(self: EventRows, event: Any) -> None:
    return None


def use_events(on: bool) -> None:
    EventRows.append = _original_append if on else _skip_event  # type: ignore[method-assign]
    chats_repository._POST_POSTGRESQL = WITH_EVENTS_SQL if on else WITHOUT_EVENTS_SQL
    for key in [k for k in fast._compiled if k[0] == ("chats.post",)]:
        del fast._compiled[key]


async def _reset(url: str) -> None:
    database = create_database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    await database.dispose()


async def measure(url: str, *, posts: int, rounds: int) -> dict[str, float]:
    await _reset(url)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="staging",
        database_url=url,
        jwt_secret="bench-" + "x" * 40,
        bcrypt_rounds=4,
        rate_limit_max=10**9,
        log_level="CRITICAL",
        media_dir=Path(tempfile.mkdtemp()) / "media",
    )
    app = create_app(settings, single_worker=True)
    wall: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            email = "bench@example.com"
            credentials = {"email": email, "password": PASSWORD}
            await http.post("/api/v1/auth/register", json=credentials)
            login = await http.post("/api/v1/auth/login", json=credentials)
            headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
            created = await http.post("/api/v1/sessions", json={"title": "Bench"}, headers=headers)
            path = f"/api/v1/sessions/{created.json()['data']['id']}/messages"
            body = {"content": "Do you have the blue one in a size 42?"}
            for round_ in range(rounds + 2):
                for on in (True, False) if round_ % 2 else (False, True):
                    use_events(on)
                    started, started_cpu = time.perf_counter(), time.process_time()
                    for _ in range(posts):
                        response = await http.post(path, json=body, headers=headers)
                        assert response.status_code == 201, response.text
                    if round_ >= 2:  # the first rounds warm both variants up
                        wall[on].append((time.perf_counter() - started) / posts)
                        cpu[on].append((time.process_time() - started_cpu) / posts)
    use_events(True)
    figures: dict[str, float] = {}
    for name, times in (("wall", wall), ("cpu", cpu)):
        with_events, without = statistics.median(times[True]), statistics.median(times[False])
        figures[f"{name}_with_events_ms"] = with_events * 1000
        figures[f"{name}_without_events_ms"] = without * 1000
        figures[f"{name}_overhead_percent"] = (with_events / without - 1) * 100
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.event_overhead", description=__doc__)
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    parser.add_argument("--posts", type=int, default=20, help="posts per round")
    parser.add_argument("--rounds", type=int, default=100, help="measured rounds of each variant")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    figures = asyncio.run(measure(url, posts=args.posts, rounds=args.rounds))
    database = url.split(":", 1)[0]
    for name in ("wall", "cpu"):
        print(
            f"{database} {name}: {figures[f'{name}_with_events_ms']:.3f} ms per post with the "
            f"event, {figures[f'{name}_without_events_ms']:.3f} ms without: "
            f"{figures[f'{name}_overhead_percent']:+.1f} %"
        )


if __name__ == "__main__":
    main()
