"""Prepare a seeded benchmark database: migrate with `parley migrate`, then bulk-load the rows
(executemany on SQLite, COPY on PostgreSQL), and reuse it while schema and spec are unchanged."""

import asyncio
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.seed_data import SEED_VERSION, Batch, Encoder, Manifest, Plan, SeedSpec

PARLEY = str(Path(sys.executable).parent / "parley")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROTECTED_DATABASES = {"test", "postgres", "template0", "template1"}


def fingerprint(dialect: str, spec: SeedSpec) -> str:
    """Changes whenever the models, the migrations or the seed spec change."""
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateTable

    import parley.models  # noqa: F401 - registers the tables
    from parley.db.base import Base

    dialect_obj = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()
    ddl = "".join(
        str(CreateTable(t).compile(dialect=dialect_obj)) for t in Base.metadata.sorted_tables
    )
    versions = Path(__import__("parley.migrations", fromlist=["x"]).__file__).parent / "versions"
    migrations = "".join(sorted(p.read_text() for p in versions.glob("*.py")))
    text = f"{SEED_VERSION}|{spec.digest()}|{ddl}|{migrations}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _server_env(database_url: str, workdir: Path) -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=database_url,
        ENVIRONMENT="production",
        JWT_SECRET="bench-migrate-" + "x" * 40,
        LOG_LEVEL="WARNING",
        MEDIA_DIR=str(workdir / "media"),
    )


def migrate(database_url: str, workdir: Path) -> str:
    """Run `parley migrate`; create the tables from the models if no migration made them."""
    workdir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [PARLEY, "migrate"],
        cwd=workdir,
        env=_server_env(database_url, workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"parley migrate failed:\n{result.stdout}\n{result.stderr}")
    return asyncio.run(_ensure_tables(database_url))


async def _ensure_tables(database_url: str) -> str:
    from sqlalchemy import inspect

    import parley.models  # noqa: F401
    from parley.db.base import Base
    from parley.db.engine import create_database

    database = create_database(database_url)
    try:
        async with database.engine.begin() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            missing = {t.name for t in Base.metadata.sorted_tables} - tables
            if not missing:
                return "parley migrate"
            await conn.run_sync(Base.metadata.create_all)
            return f"parley migrate, then create_all for {sorted(missing)} (no migration has them)"
    finally:
        await database.dispose()


def complete(batch: Batch) -> Batch:
    """Append values for model columns the seed does not name (scalar defaults or NULL)."""
    import parley.models  # noqa: F401
    from parley.db.base import Base

    table_name, columns, rows = batch
    table = Base.metadata.tables[table_name]
    unknown = set(columns) - set(table.c.keys())
    if unknown:
        raise RuntimeError(f"the seed names columns {table_name} no longer has: {sorted(unknown)}")
    extra_cols, extra_vals = [], []
    for column in table.c:
        if column.name in columns:
            continue
        default = column.default
        if default is not None and getattr(default, "is_scalar", False):
            extra_cols.append(column.name)
            extra_vals.append(default.arg)  # type: ignore[attr-defined]
        elif not column.nullable and column.server_default is None:
            raise RuntimeError(
                f"the seed must fill {table_name}.{column.name} (new NOT NULL column)"
            )
    if not extra_cols:
        return batch
    tail = tuple(extra_vals)
    return table_name, (*columns, *extra_cols), (row + tail for row in rows)


def _password_hash() -> str:
    from bench.seed_data import BENCH_PASSWORD
    from parley.core.passwords import hash_password_sync

    return hash_password_sync(BENCH_PASSWORD, 12)


# ---------------------------------------------------------------- SQLite


def prepare_sqlite(
    data_dir: Path, spec: SeedSpec, *, fresh: bool
) -> tuple[str, Manifest, dict[str, Any]]:
    """Return (DATABASE_URL, manifest, seeding report) for a seeded SQLite file."""
    path = data_dir / "sqlite" / "parley.db"
    sidecar = path.with_suffix(".seed.json")
    print_ = _printer("sqlite")
    mark = fingerprint("sqlite", spec)
    url = f"sqlite:///{path}"
    if not fresh and path.exists() and sidecar.exists():
        saved = json.loads(sidecar.read_text())
        if saved.get("fingerprint") == mark:
            print_(f"reusing seeded database {path}")
            return url, Manifest(**saved["manifest"]), saved["report"] | {"reused": True}
    for stale in path.parent.glob("parley.db*"):
        stale.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    how = migrate(url, data_dir / "sqlite")
    migrated = time.perf_counter()
    plan = Plan(spec, Encoder("sqlite"), _password_hash())
    timings = _load_sqlite(path, plan)
    report = {
        "schema": how,
        "migrate_s": round(migrated - started, 2),
        "tables_s": timings,
        "total_s": round(time.perf_counter() - started, 2),
        "rows": plan.manifest.rows,
        "reused": False,
    }
    print_(f"seeded in {report['total_s']}s: {timings}")
    sidecar.write_text(
        json.dumps({"fingerprint": mark, "manifest": asdict(plan.manifest), "report": report})
    )
    return url, plan.manifest, report


def _load_sqlite(path: Path, plan: Plan) -> dict[str, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    timings: dict[str, float] = {}
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA cache_size=-200000")
        for batch in plan.batches():
            table, columns, rows = complete(batch)
            started = time.perf_counter()
            conn.execute("BEGIN")
            marks = ",".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)  # noqa: S608
            conn.execute("COMMIT")
            timings[table] = round(time.perf_counter() - started, 2)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return timings


# ---------------------------------------------------------------- PostgreSQL


def prepare_postgres(
    dbname: str, data_dir: Path, spec: SeedSpec, *, fresh: bool
) -> tuple[str, Manifest, dict[str, Any]]:
    """Return (DATABASE_URL, manifest, seeding report) for a seeded PostgreSQL database."""
    if dbname in PROTECTED_DATABASES or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", dbname):
        raise ValueError(f"refusing to use the database {dbname!r}: other suites rely on it")
    print_ = _printer("postgresql")
    url = f"postgresql://postgres@127.0.0.1:5432/{dbname}"
    sidecar = data_dir / f"postgresql-{dbname}.seed.json"
    mark = fingerprint("postgresql", spec)
    comment = asyncio.run(_admin(dbname, recreate=False))
    if not fresh and comment == mark and sidecar.exists():
        saved = json.loads(sidecar.read_text())
        if saved.get("fingerprint") == mark:
            print_(f"reusing seeded database {dbname}")
            return url, Manifest(**saved["manifest"]), saved["report"] | {"reused": True}
    started = time.perf_counter()
    asyncio.run(_admin(dbname, recreate=True))
    how = migrate(url, data_dir / "postgresql")
    migrated = time.perf_counter()
    plan = Plan(spec, Encoder("postgresql"), _password_hash())
    timings = asyncio.run(_load_postgres(url, plan, dbname, mark))
    report = {
        "schema": how,
        "migrate_s": round(migrated - started, 2),
        "tables_s": timings,
        "total_s": round(time.perf_counter() - started, 2),
        "rows": plan.manifest.rows,
        "reused": False,
    }
    print_(f"seeded in {report['total_s']}s: {timings}")
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text(
        json.dumps({"fingerprint": mark, "manifest": asdict(plan.manifest), "report": report})
    )
    return url, plan.manifest, report


async def _admin(dbname: str, *, recreate: bool) -> str | None:
    """Return the bench database's comment (its seed fingerprint); recreate it when asked."""
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        if recreate:
            await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{dbname}"')
            return None
        comment: str | None = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            dbname,
        )
        return comment
    finally:
        await admin.close()


async def _load_postgres(url: str, plan: Plan, dbname: str, mark: str) -> dict[str, float]:
    import asyncpg

    conn = await asyncpg.connect(url)
    timings: dict[str, float] = {}
    try:
        # The rows are consistent by construction: skip the per-row foreign-key triggers.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET synchronous_commit = off")
        for batch in plan.batches():
            table, columns, rows = complete(batch)
            started = time.perf_counter()
            await conn.copy_records_to_table(table, records=rows, columns=list(columns))
            timings[table] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        await conn.execute("ANALYZE")  # autovacuum would do it soon after in production
        timings["analyze"] = round(time.perf_counter() - started, 2)
        await conn.execute(f"COMMENT ON DATABASE \"{dbname}\" IS '{mark}'")
    finally:
        await conn.close()
    return timings


def vacuum_postgres(url: str) -> None:
    """Clear the dead row versions the last measurement left, as autovacuum would have by the
    next one in production (this machine's server runs with autovacuum off: a text post
    updates its chat session's row, and 100,000 dead versions of the same 20 rows slowed the
    session list measured next by half)."""

    async def vacuum() -> None:
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(url)
        try:
            await conn.execute("VACUUM (ANALYZE)")
        finally:
            await conn.close()

    asyncio.run(vacuum())


def drop_postgres(dbname: str) -> None:
    """Drop the bench database (never a protected one)."""
    if dbname in PROTECTED_DATABASES:
        raise ValueError(f"refusing to drop {dbname!r}")

    async def drop() -> None:
        import asyncpg

        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


def _printer(label: str):  # type: ignore[no-untyped-def]
    def print_(text: str) -> None:
        print(f"[seed {label}] {text}", flush=True)

    return print_
