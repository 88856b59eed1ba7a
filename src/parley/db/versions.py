"""Per-owner change counters the database keeps itself: a cache keyed by an owner's counter
can never serve what a committed write changed (decision 190).

Triggers bump the owner's row in a counter table in the same transaction as every insert,
update or delete of a watched table, whoever writes (the ORM, the lean path, a cascade, a
migration). MariaDB fires no trigger for a foreign key's cascade, so a watched table can also
name the parent whose deletion takes its rows away.
"""

from dataclasses import dataclass

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Connection


@dataclass(frozen=True, slots=True)
class Watched:
    table: str
    # The parent table whose deleted rows cascade to this one's (same owner column).
    cascades_from: str | None = None


@dataclass(frozen=True, slots=True)
class OwnerVersions:
    """`counters` (owner column `owner`, BIGINT `version`) counts changes to `watched`."""

    counters: str
    owner: str
    watched: tuple[Watched, ...]

    def attach(self, metadata: MetaData) -> None:
        """Create and drop the triggers with the tables, so create_all builds what migrations
        do."""
        event.listen(metadata, "after_create", lambda _m, connection, **_: self.install(connection))
        event.listen(
            metadata, "before_drop", lambda _m, connection, **_: self.uninstall(connection)
        )

    def install(self, connection: Connection) -> None:
        for statement in self.create_statements(connection.dialect.name):
            connection.execute(text(statement))

    def uninstall(self, connection: Connection) -> None:
        for statement in self.drop_statements(connection.dialect.name):
            connection.execute(text(statement))

    def _sources(self) -> list[tuple[str, str, str]]:
        """(trigger name, table, operation) of every trigger."""
        sources = []
        for watched in self.watched:
            for operation in ("INSERT", "UPDATE", "DELETE"):
                name = f"{watched.table}_{self.counters}_{operation[0].lower()}"
                sources.append((name, watched.table, operation))
            if watched.cascades_from is not None:
                name = f"{watched.cascades_from}_{self.counters}_d"
                sources.append((name, watched.cascades_from, "DELETE"))
        return sources

    @property
    def _function(self) -> str:
        return f"bump_{self.counters}"

    def create_statements(self, dialect: str) -> list[str]:
        # Every name below is this class's own constant, never a caller's text.
        counters, owner = self.counters, self.owner
        if dialect == "postgresql":
            bump = (
                f"CREATE OR REPLACE FUNCTION {self._function}() RETURNS trigger AS $$ "  # noqa: S608
                f"BEGIN INSERT INTO {counters} ({owner}, version) "
                f"VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.{owner} ELSE NEW.{owner} END, 1) "
                f"ON CONFLICT ({owner}) DO UPDATE SET version = {counters}.version + 1; "
                "RETURN NULL; END $$ LANGUAGE plpgsql"
            )
            statements = [bump]
            for name, table, operation in self._sources():
                statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                statements.append(
                    f"CREATE TRIGGER {name} AFTER {operation} ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION {self._function}()"
                )
            return statements
        statements = []
        for name, table, operation in self._sources():
            row = "old" if operation == "DELETE" else "new"
            values = f"INSERT INTO {counters} ({owner}, version) VALUES ({row}.{owner}, 1)"  # noqa: S608
            if dialect == "sqlite":
                upsert = f"{values} ON CONFLICT ({owner}) DO UPDATE SET version = version + 1;"
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {operation} ON {table} "
                    f"BEGIN {upsert} END"
                )
            else:
                upsert = f"{values} ON DUPLICATE KEY UPDATE version = version + 1"
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {operation} ON {table} "
                    f"FOR EACH ROW {upsert}"
                )
        return statements

    def drop_statements(self, dialect: str) -> list[str]:
        if dialect == "postgresql":
            drops = [f"DROP TRIGGER IF EXISTS {n} ON {t}" for n, t, _ in self._sources()]
            return [*drops, f"DROP FUNCTION IF EXISTS {self._function}()"]
        return [f"DROP TRIGGER IF EXISTS {name}" for name, _, _ in self._sources()]
