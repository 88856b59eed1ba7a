"""Run wrk against one server with one of the Lua scripts, and read its figures."""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import Registry, Server, cpu_times, pinned, wait4

LUA_DIR = Path(__file__).parent / "lua"
RESULT_PREFIX = "BENCH_RESULT "


@dataclass(frozen=True)
class Load:
    """What to send: requests replayed round robin, or a refresh-token rotation."""

    requests: tuple[tuple[str, str, str], ...] = ()  # (method, path, json body or "")
    token: str | None = None
    refresh_tokens: tuple[str, ...] = ()  # set: rotate refresh tokens on `requests[0]`'s path
    connections: int = 16
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request


@dataclass
class Running:
    server: Server
    proc: subprocess.Popen[bytes]
    out_path: Path
    workdir: Path
    duration: int
    cpu_before: float
    machine_before: tuple[float, float] = (0.0, 0.0)  # cpu_times() as wrk started
    served_before: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise RuntimeError("wrk is not installed: run `bash bench/run.sh` (it installs it)")
    return path


def start(
    registry: Registry, server: Server, load: Load, *, duration: int, cpus: str | None
) -> Running:
    """Start wrk in the background; `finish()` collects its figures."""
    workdir = Path(tempfile.mkdtemp(prefix="parley-wrk-"))
    env = dict(os.environ, BENCH_LUA=str(LUA_DIR), BENCH_TOKEN=load.token or "")
    env["BENCH_HEADERS"] = "".join(f"{name}: {value}\n" for name, value in load.headers)
    if load.refresh_tokens:
        tokens = workdir / "refresh-tokens.txt"
        tokens.write_text("\n".join(load.refresh_tokens) + "\n")
        env["BENCH_REFRESH_TOKENS"] = str(tokens)
        env["BENCH_REFRESH_OUT"] = str(workdir / "refresh-left.txt")
        script = LUA_DIR / "refresh.lua"
    else:
        spec = workdir / "requests.tsv"
        spec.write_text("".join(f"{m}\t{p}\t{b}\n" for m, p, b in load.requests))
        env["BENCH_REQUESTS"] = str(spec)
        script = LUA_DIR / "requests.lua"
    path = load.requests[0][1] if load.requests else "/"
    argv = [
        ensure_wrk(),
        "-t1",
        f"-c{load.connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        server.base_url + path,
    ]
    out_path = workdir / "wrk.out"
    with out_path.open("wb") as out:
        proc = registry.spawn(pinned(cpus, argv), stdout=out, stderr=subprocess.STDOUT, env=env)
    return Running(server, proc, out_path, workdir, duration, server.cpu_seconds(), cpu_times())


def finish(registry: Registry, running: Running) -> dict[str, object]:
    """Wait for wrk and return requests/s, latency percentiles (ms), errors and CPU use."""
    status, wrk_cpu = wait4(running.proc, timeout=running.duration + 30)
    busy, stolen = cpu_times()
    registry.forget(running.proc)
    output = running.out_path.read_text(errors="replace")
    left_path = running.workdir / "refresh-left.txt"
    left = left_path.read_text().split() if left_path.exists() else []
    stats = _refresh_stats(running.workdir / "refresh-left.txt.stats")
    shutil.rmtree(running.workdir, ignore_errors=True)
    line = next((ln for ln in output.splitlines() if ln.startswith(RESULT_PREFIX)), None)
    if status != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {status}):\n{output[-2000:]}")
    raw = json.loads(line[len(RESULT_PREFIX) :])
    seconds = raw["duration_us"] / 1e6
    requests = int(raw["requests"])
    running.server.served += requests
    lat = raw["latency_us"]
    errors = raw["errors"]
    result: dict[str, object] = {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "p999_ms": lat["p999"] / 1000,
        "mean_ms": round(lat["mean"] / 1000, 3),
        "max_ms": lat["max"] / 1000,
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "bytes_per_response": round(raw["bytes"] / requests) if requests else 0,
        "wrk_cpu_s": round(wrk_cpu, 2),
        "server_cpu_s": round(running.server.cpu_seconds() - running.cpu_before, 2),
        "machine_cpu_s": round(busy - running.machine_before[0], 2),
        "steal_s": round(stolen - running.machine_before[1], 2),
        **({"refresh_tokens_left": left} if left else {}),
        **stats,
    }
    if stats:
        # Only answers to live tokens count: requests sent with no token are "starved".
        ok = int(stats["statuses"].get("200", 0))  # type: ignore[attr-defined]
        result["rps"] = round(ok / seconds, 1) if seconds else 0.0
        result["non_2xx"] = max(0, int(errors["status"]) - int(stats["starved"]))  # type: ignore[call-overload]
    return result


def _refresh_stats(path: Path) -> dict[str, object]:
    """Statuses the refresh script saw, and requests it could send only with no token."""
    if not path.exists():
        return {}
    statuses: dict[str, int] = {}
    starved = 0
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["starved"]:
            starved += int(parts[1])
        elif parts[:1] == ["status"]:
            statuses[parts[1]] = statuses.get(parts[1], 0) + int(parts[2])
    return {"statuses": statuses, "starved": starved}


def run(
    registry: Registry, server: Server, load: Load, *, duration: int, cpus: str | None
) -> dict[str, object]:
    """Run wrk in the foreground."""
    return finish(registry, start(registry, server, load, duration=duration, cpus=cpus))
