"""The unit of work: one transaction per use case, rolled back unless the service commits,
with side effects that run only after a successful commit."""

import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

AfterCommit = Callable[[], Awaitable[None] | None]

log = structlog.get_logger("parley.db")


class UnitOfWork:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    def after_commit(self, effect: AfterCommit) -> None:
        """Run `effect` once the transaction has committed; never if it rolls back."""
        self._after_commit.append(effect)

    async def commit(self) -> None:
        await self.session.commit()
        effects, self._after_commit = self._after_commit, []
        for effect in effects:
            try:
                result = effect()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                # The change is committed; a failed side effect must not turn it into an error.
                log.exception("after_commit_failed", effect=getattr(effect, "__name__", repr(effect)))

    async def rollback(self) -> None:
        self._after_commit.clear()
        if self.session.in_transaction():
            await self.session.rollback()
