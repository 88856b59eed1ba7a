"""Tables, the plot and the published copy of a results document."""

import json
from pathlib import Path
from typing import Any

from bench.targets import evaluate

Result = dict[str, Any]
REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
ENDPOINT_KEYS = ("me", "page", "page_fresh", "post", "sessions", "sellers", "refresh")
# The endpoints of the scaling runs (bench.stress.TAIL_KEYS).
SCALED_KEYS = ("me", "page", "page_fresh")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def endpoint_rows(results: Result) -> list[list[str]]:
    rows = []
    for db_name, db in results.get("databases", {}).items():
        eps = db.get("pinned", {}).get("endpoints", {})
        for key in ENDPOINT_KEYS:
            ep = eps.get(key)
            if not ep:
                continue
            if "skipped" in ep:
                rows.append([db_name, ep["label"], "skipped", "", "", "", "", "", ""])
                continue
            p, b = ep["parley"], ep.get("baseline", {})
            rows.append(
                [
                    db_name,
                    ep["label"],
                    _fmt(p["rps"], 0),
                    _fmt(b.get("rps"), 0),
                    _fmt(ep.get("ratio")),
                    _fmt(p["p50_ms"]),
                    _fmt(p["p99_ms"]),
                    _fmt(b.get("p99_ms")),
                    str(p["non_2xx"] + p["socket_errors"]),
                ]
            )
        login = db.get("pinned", {}).get("login")
        if login:
            p = login["parley"]
            rows.append(
                [
                    db_name,
                    f"POST /auth/login (bound {login['bound_rps']}/s)",
                    _fmt(p["rps"], 1),
                    "-",
                    _fmt(login["ratio"]),
                    _fmt(p["p50_ms"], 0),
                    _fmt(p["p99_ms"], 0),
                    "-",
                    str(p["non_2xx"] + p["socket_errors"]),
                ]
            )
    return rows


ENDPOINT_HEADER = [
    "db",
    "endpoint (1 worker, 16 conns)",
    "req/s",
    "baseline req/s",
    "ratio",
    "p50 ms",
    "p99 ms",
    "baseline p99 ms",
    "errors",
]


def target_rows(results: Result) -> tuple[list[str], list[list[str]]]:
    dbs = list(results.get("databases", {}))
    header = ["target", "rule", *dbs]
    rows = []
    for row in evaluate(results):
        cells = [row["label"], row["rule"]]
        for db in dbs:
            v = row["values"].get(db)
            cells.append(
                "n/a" if v is None else f"{_fmt(v['value'])} {'PASS' if v['pass'] else 'FAIL'}"
            )
        rows.append(cells)
    return header, rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def print_summary(results: Result) -> None:
    print("\n" + text_table(ENDPOINT_HEADER, endpoint_rows(results)))
    header, rows = target_rows(results)
    print("\n" + text_table(header, rows) + "\n", flush=True)
    for note in _scaling_notes(results) + _steal_notes(results):
        print(note, flush=True)


def plot(results: Result, path: Path) -> None:
    """Throughput and p99 per endpoint, Parley beside its baseline, one column per database."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dbs = list(results.get("databases", {}))
    if not dbs:
        return
    fig, axes = plt.subplots(2, len(dbs), figsize=(6.5 * len(dbs), 8), squeeze=False)
    for col, db in enumerate(dbs):
        eps = results["databases"][db].get("pinned", {}).get("endpoints", {})
        keys = [k for k in ENDPOINT_KEYS if k in eps and "skipped" not in eps[k]]
        xs = range(len(keys))
        for row, (metric, title) in enumerate(
            (("rps", "requests/s"), ("p99_ms", "p99 latency (ms)"))
        ):
            ax = axes[row][col]
            parley = [eps[k]["parley"][metric] for k in keys]
            base = [eps[k].get("baseline", {}).get(metric, 0) for k in keys]
            ax.bar([x - 0.2 for x in xs], base, 0.4, label="baseline", color="#b0b0b0")
            ax.bar([x + 0.2 for x in xs], parley, 0.4, label="Parley", color="#2b6cb0")
            ax.set_xticks(list(xs), keys)
            ax.set_title(f"{db}, 1 worker: {title}")
            ax.grid(axis="y", alpha=0.3)
            if metric == "rps":
                for x, k in zip(xs, keys, strict=True):
                    if eps[k].get("ratio") is not None:
                        ax.annotate(
                            f"{eps[k]['ratio']:.2f}x",
                            (x + 0.2, parley[x]),
                            ha="center",
                            va="bottom",
                            fontsize=8,
                        )
            ax.legend(fontsize=8)
    fig.suptitle(
        f"Parley benchmark ({results['meta']['profile']} profile, {results['meta']['started']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _soak_notes(results: Result) -> list[str]:
    notes = []
    for db, data in results.get("databases", {}).items():
        soak = data.get("pinned", {}).get("soak")
        if soak and "checkpoints" in soak:
            points = ", ".join(
                f"{c['served']:,} requests of its own (target {c['target']:,}"
                f"{'' if c['reached'] else ', not reached in time'}"
                f"{_in_all(c)})"
                for c in soak["checkpoints"]
            )
            notes.append(f"Soak on {db}: memory read at {points}.")
    return [*notes, ""] if notes else []


def scaling_ceilings(data: Result, cpus: int) -> dict[str, float]:
    """The most 2 workers could serve over 1 on this machine, per endpoint of the scaling runs.

    With one worker, wrk, the database and everything else kept the machine busy B CPU
    seconds in T seconds; if each request costs the machine what it did then, its `cpus`
    CPUs serve at most cpus x T / B times one worker's rate, however the workers scale.
    """
    one = data.get("scaling", {}).get("1", {})
    out = {}
    for key in SCALED_KEYS:
        run = one.get(key, {}).get("parley", {})
        if run.get("machine_cpu_s"):
            out[key] = round(cpus * run["seconds"] / run["machine_cpu_s"], 2)
    return out


def two_over_one(data: Result, server: str, field: str = "rps") -> dict[str, float]:
    """A server's ("parley" or "baseline") `field` with 2 workers over with 1, per endpoint of
    the scaling runs: its throughput (the target reads Parley's me and kept page), or its CPU
    per request (near 1 when the workers share nothing that makes each request dearer)."""
    one = data.get("scaling", {}).get("1", {})
    two = data.get("scaling", {}).get("2", {})
    out = {}
    for key in SCALED_KEYS:
        before = one.get(key, {}).get(server, {}).get(field)
        after = two.get(key, {}).get(server, {}).get(field)
        if before and after:
            out[key] = round(after / before, 2)
    return out


def _scaling_notes(results: Result) -> list[str]:
    cpus = results.get("meta", {}).get("cpus") or 1
    notes = []
    for db, data in results.get("databases", {}).items():
        # Each line's figures by endpoint, and what they are ({} takes the figures).
        lines = (
            (
                scaling_ceilings(data, cpus),
                f"2 workers vs 1 on {db}: this machine's ceiling, from what the 1-worker runs "
                f"kept its {cpus} CPUs busy with (wrk and the database included): {{}}.",
            ),
            (two_over_one(data, "parley"), f"2 workers vs 1 on {db}, Parley by endpoint: {{}}."),
            (
                two_over_one(data, "parley", "server_cpu_ms_per_request"),
                f"Parley's CPU per request on {db}, 2 workers over 1 (the workers' own "
                "share of the scaling): {}.",
            ),
            (
                two_over_one(data, "baseline"),
                f"2 workers vs 1 on {db}, the baseline (no database) in the same runs: {{}}.",
            ),
        )
        for by_endpoint, line in lines:
            if by_endpoint:
                notes.append(line.format(", ".join(f"{k} x {v}" for k, v in by_endpoint.items())))
    return [*notes, ""] if notes else []


def _steal_notes(results: Result) -> list[str]:
    """CPU time the hypervisor kept from this machine, by phase: a run's figures move with it."""
    meta = results.get("meta", {})
    steal = {k: v for k, v in meta.get("phase_steal_s", {}).items() if v >= 0.1}
    if not steal:
        return []
    seconds = meta.get("phase_seconds", {})
    figures = ", ".join(
        f"{label} {value} s of {seconds.get(label, '?')} s" for label, value in steal.items()
    )
    return [f"CPU time the hypervisor kept from this machine (steal), by phase: {figures}.", ""]


def _in_all(checkpoint: Result) -> str:
    in_all = checkpoint.get("served_in_all")
    return f"; {in_all:,} served by the worker in all" if in_all else ""


def publish(json_path: Path) -> None:
    """Copy a chosen results file into docs/, redraw the plot, refresh docs/performance.md."""
    results = json.loads(json_path.read_text())
    results["targets"] = evaluate(results)  # the rules of this version of the suite
    DOCS.mkdir(exist_ok=True)
    (DOCS / "performance-latest.json").write_text(json.dumps(results, indent=1))
    plot(results, DOCS / "performance.png")
    header, rows = target_rows(results)
    meta = results["meta"]
    block = "\n".join(
        [
            START,
            f"Run of {meta['started']} ({meta['profile']} profile, "
            f"commit {meta.get('commit', '?')}, "
            f"{meta.get('cpus')} CPUs, load average {meta.get('load_average_start')} at start). "
            "Figures: [performance-latest.json](performance-latest.json).",
            "",
            markdown_table(ENDPOINT_HEADER, endpoint_rows(results)),
            "",
            markdown_table(header, rows),
            "",
            *_soak_notes(results),
            *_scaling_notes(results),
            *_steal_notes(results),
            f"Server environment beyond the defaults: {meta.get('server_env_extras', {})}.",
            "",
            "![Throughput and p99 per endpoint, Parley beside the baseline](performance.png)",
            END,
        ]
    )
    doc = DOCS / "performance.md"
    text = doc.read_text() if doc.exists() else f"# Performance\n\n{START}\n{END}\n"
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text += "\n" + block + "\n"
    doc.write_text(text)
    print(
        f"published {json_path.name} to docs/performance.md, docs/performance.png, "
        "docs/performance-latest.json"
    )
