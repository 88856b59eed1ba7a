"""Record what the application sends to its database while a block runs: statements on the
lean path's driver connection, statements through SQLAlchemy, and transaction control."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, text

from parley.db import fast
from parley.jobs.repository import IDLE_LOOKS

TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Statements:
    """What one request sent: `lean` on the driver connection, `orm` through SQLAlchemy."""

    lean: list[str] = field(default_factory=list)
    orm: list[str] = field(default_factory=list)
    transaction: list[str] = field(default_factory=list)


@contextmanager
def statements_sent(application: FastAPI) -> Iterator[Statements]:
    """Record every statement the application sends while the block runs, but for the job
    loops' looks for due work: they run every second or so, beside any request."""
    sent = Statements()
    engine = application.state.resources.database.engine.sync_engine
    looks = {text(sql).compile(dialect=engine.dialect).string for sql in IDLE_LOOKS}

    def through_sqlalchemy(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        kind = statement.lstrip().upper()
        (sent.transaction if kind.startswith(TRANSACTION) else sent.orm).append(statement)

    def on_driver(statement: str, _args: list[Any]) -> None:
        if statement not in looks:
            sent.lean.append(statement)

    event.listen(engine, "before_cursor_execute", through_sqlalchemy)
    fast.statement_observers.append(on_driver)
    try:
        yield sent
    finally:
        fast.statement_observers.remove(on_driver)
        event.remove(engine, "before_cursor_execute", through_sqlalchemy)
