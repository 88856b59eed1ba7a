"""Which driver errors mean "the database is away, try again" (a 503) rather than a bug."""

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc

from parley.db.errors import is_database_unavailable


def test_an_asyncpg_connection_whose_protocol_was_lost_mid_operation_is_unavailable() -> None:
    # What a PostgreSQL restart left behind on a connection the lean path then used.
    lost = asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    )

    assert is_database_unavailable(lost)
    assert is_database_unavailable(sa_exc.InterfaceError("SELECT 1", [], lost))


def test_an_error_in_the_statement_itself_is_not() -> None:
    assert not is_database_unavailable(ValueError("not a database problem"))
    assert not is_database_unavailable(asyncpg.UniqueViolationError("duplicate key"))
