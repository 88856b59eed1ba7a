"""The small generic repository every domain repository builds on."""

from typing import Any, ClassVar, Generic, TypeVar, cast
from uuid import UUID

from sqlalchemy import CursorResult, Result, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.errors import ParleyError
from parley.db.base import Base
from parley.db.session import begin_write

ModelT = TypeVar("ModelT", bound=Base)


class Repository(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: UUID) -> ModelT | None:
        found: ModelT | None = await self.session.get(self.model, id_)
        return found

    def add(self, instance: ModelT) -> ModelT:
        self.session.add(instance)
        return instance

    async def delete(self, instance: ModelT) -> None:
        await self.session.delete(instance)

    async def run_counted(self, statement: Any) -> int:
        """Run an UPDATE or DELETE, leaving loaded objects as they are; how many rows it
        matched."""
        return rows_changed(
            await self.session.execute(statement, execution_options={"synchronize_session": False})
        )

    async def flush(self) -> None:
        """Send pending changes, turning a broken constraint into the domain's error."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise self.integrity_error(exc) from exc

    def integrity_error(self, exc: IntegrityError) -> ParleyError | IntegrityError:
        """Map a constraint violation to a domain error; subclasses name their constraints."""
        return exc


def rows_changed(result: Result[Any]) -> int:
    """How many rows the UPDATE or DELETE that gave `result` matched (its cursor's rowcount)."""
    return cast(CursorResult[Any], result).rowcount


def violates(exc: IntegrityError, constraint: str, *columns: str) -> bool:
    """Tell whether `exc` broke `constraint`.

    PostgreSQL and MariaDB name the constraint; SQLite names `table.column` instead, so the
    table is read from the constraint name's convention (`uq_<table>_<columns>`) by the caller
    passing the qualified columns.
    """
    text = str(exc.orig)
    if constraint in text:
        return True
    return bool(columns) and "UNIQUE constraint failed" in text and all(c in text for c in columns)


async def lock_row(session: AsyncSession, model: type[Any], id_: UUID, *columns: Any) -> Any:
    """Read `columns` of the row of `model` with this primary key and hold it for this
    transaction; None when there is no such row.

    It begins a write transaction (on SQLite: the process's writer turn, then the write lock),
    and concurrent writers of the row queue behind it. The row is found by its primary key
    alone and the caller decides on what it read, never on an UPDATE's row count: MariaDB may
    look for `id = ? AND user_id = ?` through another index, and at READ COMMITTED such a scan
    misses a row whose key in that index a concurrent writer has just changed.
    """
    await begin_write(session)
    query = select(*columns).where(model.id == id_).with_for_update()
    return (await session.execute(query)).first()
