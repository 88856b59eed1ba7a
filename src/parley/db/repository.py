"""The small generic repository every domain repository builds on."""

from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.errors import ParleyError
from parley.db.base import Base

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

    async def flush(self) -> None:
        """Send pending changes, turning a broken constraint into the domain's error."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise self.integrity_error(exc) from exc

    def integrity_error(self, exc: IntegrityError) -> ParleyError | IntegrityError:
        """Map a constraint violation to a domain error; subclasses name their constraints."""
        return exc


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
