"""Substring search that every database answers alike, each from a structure of its own.

A text matches a query when it contains it with case folded by Unicode's simple case mapping and
accents kept ("ÉCOLE" finds "école", "ecole" does not). SQLite answers from an FTS5 trigram
table its triggers keep in step, PostgreSQL from pg_trgm GIN indexes, MariaDB (which indexes
no substrings) with LIKE under an accent-sensitive, case-insensitive collation. A query under
three characters has no trigram: it scans the rows its caller's scope already narrowed.
"""

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, event, literal_column, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)

# The LIKE escape character: "/" reads the same in every SQL dialect, unlike a backslash.
LIKE_ESCAPE = "/"
# Case-insensitive and accent-sensitive on Unicode 14, as close as MariaDB gets to the others.
MARIADB_COLLATION = "utf8mb4_uca1400_as_ci"
# The trigram tokenizer finds nothing in a phrase shorter than this.
TRIGRAM = 3
_FTS5_SHADOWS = ("data", "idx", "content", "docsize", "config")


def dialect_name(session: AsyncSession) -> str:
    """The dialect a session's statements compile for: search SQL differs per database."""
    return session.get_bind().dialect.name


def contains_pattern(query: str) -> str:
    """A LIKE pattern matching `query` anywhere, its own wildcards taken literally."""
    escaped = (
        query.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", f"{LIKE_ESCAPE}%")
        .replace("_", f"{LIKE_ESCAPE}_")
    )
    return f"%{escaped}%"


def glob_pattern(query: str) -> str:
    """A SQLite GLOB pattern matching `query` anywhere, each letter as the set of its cases.

    SQLite's own LIKE folds ASCII only; a set like [Éé] folds the rest the way FTS5 does.
    """
    parts = []
    for char in query:
        cases = {char} | {c for c in (char.lower(), char.upper()) if len(c) == 1}
        if len(cases) > 1:
            parts.append("[" + "".join(sorted(cases)) + "]")
        else:
            parts.append(f"[{char}]" if char in "*?[" else char)
    return "*" + "".join(parts) + "*"


def folded_contains(column: Any, query: str, dialect: str) -> ColumnElement[bool]:
    """`column` contains `query`, case folded, by a scan (no index): the same on every database."""
    return _scan(column, scan_pattern(query, dialect), dialect, ascii_only=query.isascii())


def scan_pattern(query: str, dialect: str) -> str:
    """The operand of `folded_contains`: a GLOB pattern on SQLite unless ASCII, else LIKE."""
    if dialect == "sqlite" and not query.isascii():
        return glob_pattern(query)
    return contains_pattern(query)


def bound_scan(column: Any, dialect: str, *, ascii_only: bool, param: Any) -> ColumnElement[bool]:
    """`folded_contains` with its operand left to `param`; bind `scan_pattern` of a query whose
    `isascii()` is `ascii_only`."""
    return _scan(column, param, dialect, ascii_only=ascii_only)


def _scan(column: Any, pattern: Any, dialect: str, *, ascii_only: bool) -> ColumnElement[bool]:
    if dialect == "sqlite":
        # SQLite's LIKE folds exactly ASCII: enough, and faster than GLOB, for an ASCII query.
        if ascii_only:
            return column.like(pattern, escape=LIKE_ESCAPE)  # type: ignore[no-any-return]
        return column.op("GLOB", is_comparison=True)(pattern)  # type: ignore[no-any-return]
    if dialect == "postgresql":
        return column.ilike(pattern, escape=LIKE_ESCAPE)  # type: ignore[no-any-return]
    return column.collate(MARIADB_COLLATION).like(  # type: ignore[no-any-return]
        pattern, escape=LIKE_ESCAPE
    )


def fts_phrase(query: str) -> str:
    """`query` as one FTS5 phrase: every character literal, double quotes doubled."""
    return '"' + query.replace('"', '""') + '"'


def is_search_object(name: str | None) -> bool:
    """True for what a TrigramIndex creates: models do not declare it, drift checks skip it."""
    if not name:
        return False
    shadows = "|".join(_FTS5_SHADOWS)
    return name.endswith("_trgm") or re.fullmatch(rf".+_search(_({shadows}))?", name) is not None


@dataclass(frozen=True, slots=True)
class TrigramIndex:
    """The search structure over some text columns of one table, maintained by the database."""

    table: str
    columns: tuple[str, ...]

    @property
    def fts_table(self) -> str:
        return f"{self.table}_search"

    def trgm_index(self, column: str) -> str:
        return f"ix_{self.table}_{column}_trgm"

    # -- querying -------------------------------------------------------------------------

    def any_contains(
        self, queries: Mapping[str, str], dialect: str, *, otherwise: ColumnElement[bool]
    ) -> ColumnElement[bool]:
        """One of the columns contains its query (`queries` maps a column to its query text).

        On SQLite, when every query has a trigram, this is one FTS5 lookup; otherwise, and on
        the other databases (whose planners pick the GIN indexes themselves), it is `otherwise`:
        the same test written per column.
        """
        if all(self.uses_index(q, dialect) for q in queries.values()):
            return self._fts_lookup(self.fts_expression(queries))
        return otherwise

    def fts_expression(self, queries: Mapping[str, str]) -> str:
        """The FTS5 query of `any_contains` (bind it to a `bound_contains` lookup)."""
        # One phrase per distinct text: FTS5 reads each trigram's doclist once per phrase.
        columns_of: dict[str, list[str]] = {}
        for column, query in queries.items():
            columns_of.setdefault(query, []).append(column)
        return " OR ".join(
            f"{{{' '.join(columns)}}} : {fts_phrase(query)}"
            for query, columns in columns_of.items()
        )

    def contains(self, column: Any, query: str, dialect: str) -> ColumnElement[bool]:
        """`column` (one of this index's) contains `query`, case folded."""
        scan = folded_contains(column, query, dialect)
        return self.any_contains({column.key: query}, dialect, otherwise=scan)

    # For statements compiled once per dialect: pick the variant with `uses_index`, build it
    # with `bound_contains` and bind `bound_value` to its parameter.

    def uses_index(self, query: str, dialect: str) -> bool:
        return dialect == "sqlite" and len(query) >= TRIGRAM

    def bound_contains(
        self, column: Any, dialect: str, *, indexed: bool, param: Any
    ) -> ColumnElement[bool]:
        """`contains` with its operand left to `param` (a bindparam); bind `bound_value`."""
        return (
            self._fts_lookup(param) if indexed else _scan(column, param, dialect, ascii_only=False)
        )

    def bound_value(self, column: Any, query: str, dialect: str) -> str:
        if self.uses_index(query, dialect):
            return f"{column.key} : {fts_phrase(query)}"
        return glob_pattern(query) if dialect == "sqlite" else contains_pattern(query)

    def _fts_lookup(self, expression: Any) -> ColumnElement[bool]:
        match = literal_column(self.fts_table).op("MATCH")(expression)
        hits: Select[Any] = select(literal_column("rowid")).select_from(table(self.fts_table))
        hits = hits.where(match)
        return literal_column(f"{self.table}.rowid").in_(hits)

    # -- schema ---------------------------------------------------------------------------

    def attach(self, source: Table) -> None:
        """Create and drop the structure with `source`, so create_all builds what migrations do."""
        event.listen(source, "after_create", lambda _t, connection, **_: self.install(connection))
        event.listen(source, "before_drop", lambda _t, connection, **_: self.uninstall(connection))

    def install(self, connection: Connection) -> None:
        dialect = connection.dialect.name
        if dialect == "postgresql" and not _pg_trgm_ready(connection):
            return
        for statement in self.create_statements(dialect):
            connection.execute(text(statement))

    def uninstall(self, connection: Connection) -> None:
        for statement in self.drop_statements(connection.dialect.name):
            connection.execute(text(statement))

    def create_statements(self, dialect: str) -> list[str]:
        if dialect == "sqlite":
            return self._sqlite_create()
        if dialect == "postgresql":
            return [
                f"CREATE INDEX IF NOT EXISTS {self.trgm_index(c)} ON {self.table} "
                f"USING gin ({c} gin_trgm_ops)"
                for c in self.columns
            ]
        return []

    def drop_statements(self, dialect: str) -> list[str]:
        if dialect == "sqlite":
            triggers = [f"DROP TRIGGER IF EXISTS {self.fts_table}_{t}" for t in ("ai", "ad", "au")]
            return [*triggers, f"DROP TABLE IF EXISTS {self.fts_table}"]
        if dialect == "postgresql":
            return [f"DROP INDEX IF EXISTS {self.trgm_index(c)}" for c in self.columns]
        return []

    def _sqlite_create(self) -> list[str]:
        # Every name below is this class's own constant, never a caller's text.
        fts, source, columns = self.fts_table, self.table, ", ".join(self.columns)
        new = ", ".join(f"new.{c}" for c in self.columns)
        old = ", ".join(f"old.{c}" for c in self.columns)
        insert = f"INSERT INTO {fts}(rowid, {columns}) VALUES (new.rowid, {new});"  # noqa: S608
        # An external-content table forgets a row only when told its old values.
        forget = (
            f"INSERT INTO {fts}({fts}, rowid, {columns}) "  # noqa: S608
            f"VALUES ('delete', old.rowid, {old});"
        )
        return [
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({columns}, "
            f"content='{source}', tokenize='trigram')",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {source} BEGIN {insert} END",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {source} BEGIN {forget} END",
            # Only writes to the searched columns reach the index (not counters or timestamps).
            f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {columns} ON {source} "
            f"BEGIN {forget} {insert} END",
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",  # noqa: S608
        ]


def _pg_trgm_ready(connection: Connection) -> bool:
    """Whether pg_trgm is installed, installing it when the server has it and allows us."""
    installed = "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"
    if connection.scalar(text(installed)):
        return True
    try:
        with connection.begin_nested():
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except DBAPIError as exc:
        # Search stays correct without the indexes, only slower: say so and go on.
        logger.warning("pg_trgm unavailable, text search will scan: %s", exc.orig)
        return False
    return True
