"""The unit of work: one transaction per use case, rolled back unless the service commits,
with side effects that run only after a successful commit."""

import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

AfterCommit = Callable[[], Awaitable[None] | None]
BeforeCommit = Callable[[], Awaitable[None]]

log = structlog.get_logger("parley.db")

_FLUSHED = "parley.flushed"


@event.listens_for(Session, "after_flush")
def _remember_flush(session: Session, _context: object) -> None:
    session.info[_FLUSHED] = True


@event.listens_for(Session, "do_orm_execute")
def _remember_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_FLUSHED] = True


class UnitOfWork:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []
        self._before_commit: list[BeforeCommit] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None and not self._has_writes():
            # A read-only use case: end the transaction without expiring what it loaded, so the
            # router can still serialise it. (A rollback would expire every loaded object.)
            await self._end_read_only()
            return
        try:
            await self.rollback()
        except Exception as rollback_error:
            if exc is None:
                raise
            # The connection died with the first error (e.g. a server restarting mid-commit);
            # the pool discards it, and that first error is the one to answer with.
            log.warning("rollback_failed", error=type(rollback_error).__name__)

    def _has_writes(self) -> bool:
        session = self.session
        return bool(session.new or session.dirty or session.deleted or session.info.get(_FLUSHED))

    async def _end_read_only(self) -> None:
        self._after_commit.clear()
        self._before_commit.clear()
        if self.session.in_transaction():
            await self.session.commit()

    def after_commit(self, effect: AfterCommit) -> None:
        """Run `effect` once the transaction has committed; never if it rolls back."""
        self._after_commit.append(effect)

    def before_commit(self, step: BeforeCommit) -> None:
        """Run `step` as the transaction's last statements, right before it commits (e.g. the
        event log's rows, which must be written last: decision 111)."""
        self._before_commit.append(step)

    async def commit(self) -> None:
        steps, self._before_commit = self._before_commit, []
        for step in steps:
            await step()
        await self.session.commit()
        self.session.info.pop(_FLUSHED, None)
        effects, self._after_commit = self._after_commit, []
        for effect in effects:
            try:
                result = effect()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                # The change is committed; a failed side effect must not turn it into an error.
                log.exception(
                    "after_commit_failed", effect=getattr(effect, "__name__", repr(effect))
                )

    async def rollback(self) -> None:
        self._after_commit.clear()
        self._before_commit.clear()
        self.session.info.pop(_FLUSHED, None)
        if self.session.in_transaction():
            await self.session.rollback()
