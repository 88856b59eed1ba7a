"""Recognise database failures that mean "try again later" rather than "bug"."""

from sqlalchemy import exc as sa_exc

# Pool exhausted, connection refused or dropped, server restarting, SQLite busy past its timeout.
_TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def is_database_unavailable(error: BaseException) -> bool:
    """Tell whether the error means the database cannot be reached or is busy right now."""
    if isinstance(error, _TRANSIENT):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, ConnectionError | TimeoutError)
