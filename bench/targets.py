"""The targets, read off a results document: one row per target and database."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    threshold: float
    higher_is_better: bool
    read: Callable[[Result], float | None]  # from one database's results
    unit: str = "x"
    # A database whose threshold differs from `threshold` (e.g. a page on PostgreSQL).
    per_database: tuple[tuple[str, float], ...] = ()

    def threshold_for(self, database: str) -> float:
        return dict(self.per_database).get(database, self.threshold)

    def passes(self, value: float, database: str = "") -> bool:
        threshold = self.threshold_for(database)
        return value >= threshold if self.higher_is_better else value <= threshold

    @property
    def rule(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        others = "".join(f" ({db} {t:g})" for db, t in self.per_database)
        return f"{sign} {self.threshold:g}{others}"


def _get(data: Result, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _ratio(key: str) -> Callable[[Result], float | None]:
    return lambda db: _get(db, "pinned", "endpoints", key, "ratio")


def _deep(db: Result) -> float | None:
    """Mean p50 over the first, middle and newest pages: 10^6 messages against 10^3."""
    deep = _get(db, "pinned", "deep")
    if not deep or "skipped" in deep or "error" in deep:
        return None
    small, large = deep.get("1000", {}), deep.get("1000000", {})
    positions = [p for p in small if p in large]
    if not positions:
        return None
    mean_small = sum(small[p]["p50_ms"] for p in positions) / len(positions)
    mean_large = sum(large[p]["p50_ms"] for p in positions) / len(positions)
    return round(mean_large / mean_small, 3) if mean_small else None


def _scaling(db: Result) -> float | None:
    one, two = _get(db, "scaling", "1"), _get(db, "scaling", "2")
    if not one or not two:
        return None
    ratios = [
        two[k]["parley"]["rps"] / one[k]["parley"]["rps"]
        for k in ("me", "page")
        if k in one and k in two
    ]
    return round(min(ratios), 3) if ratios else None


def _tail(db: Result) -> float | None:
    tail = _get(db, "pinned", "tail") or {}
    values = [r["p99_over_p50"] for r in tail.values()]
    return max(values) if values else None


def _errors(db: Result) -> float | None:
    """Non-2xx answers and socket errors over every measured run of Parley."""
    total = 0

    def walk(node: Any) -> None:
        nonlocal total
        if isinstance(node, dict):
            if "non_2xx" in node and "requests" in node and "rps" in node:
                total += node["non_2xx"] + node["socket_errors"]
                return
            for key, value in node.items():
                if key.startswith("baseline") or key == "parley_runs":
                    continue
                walk(value)

    walk(db)
    return float(total)


TARGETS = [
    Target("me", "GET /users/me vs baseline (req/s)", 0.60, True, _ratio("me")),
    Target(
        "page",
        "page of 20 messages vs baseline",
        0.40,
        True,
        _ratio("page"),
        per_database=(("postgresql", 0.30),),
    ),
    Target("post", "POST text message vs baseline", 0.35, True, _ratio("post")),
    Target("sellers", "GET /sellers?q= (1,000 sellers) vs baseline", 0.20, True, _ratio("sellers")),
    Target("sessions", "GET /sessions (page of 20) vs baseline", 0.30, True, _ratio("sessions")),
    Target(
        "refresh",
        "POST /auth/refresh vs baseline",
        0.10,
        True,
        _ratio("refresh"),
    ),
    Target("deep", "message page latency, 10^6 vs 10^3 messages", 1.2, False, _deep),
    Target("scaling", "2 workers vs 1 worker throughput", 1.7, True, _scaling),
    Target(
        "login",
        "logins/s vs cores / one hash's time",
        0.8,
        True,
        lambda db: _get(db, "pinned", "login", "ratio"),
    ),
    Target(
        "contention",
        "p99 of /users/me beside full-speed logins vs alone",
        2.0,
        False,
        lambda db: _get(db, "pinned", "contention", "p99_ratio"),
    ),
    Target("tail", "p99/p50 at 64 connections", 3.0, False, _tail),
    Target(
        "rss",
        "RSS per worker after the soak (MB; see requests served)",
        150,
        False,
        lambda db: _get(db, "pinned", "soak", "max_rss_mb"),
        unit="MB",
    ),
    Target(
        "rss_growth",
        "RSS growth over the soak's second half",
        0.05,
        False,
        lambda db: _get(db, "pinned", "soak", "growth"),
        unit="",
    ),
    Target("errors", "errors (non-2xx + socket) in Parley runs", 0, False, _errors, unit=""),
]


def evaluate(results: Result) -> list[Result]:
    """One row per target: the value for each database and whether it passes."""
    rows = []
    for target in TARGETS:
        row: Result = {"key": target.key, "label": target.label, "rule": target.rule, "values": {}}
        for name, db in results.get("databases", {}).items():
            value = target.read(db)
            row["values"][name] = (
                None if value is None else {"value": value, "pass": target.passes(value, name)}
            )
        rows.append(row)
    return rows
