"""Recognise database failures that mean "try again later" rather than "bug".

SQLAlchemy's class is not enough: asyncpg's "the database system is shutting down" arrives as a
plain DBAPIError, and a failed rollback on a dead connection can hide the error that killed it.
So the whole chain of causes is read, and each driver error by its own code.
"""

import errno
import socket
import sqlite3
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

# Pool exhausted, connection refused or dropped, server restarting, SQLite busy past its timeout.
_TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)

# PostgreSQL SQLSTATE classes and codes: connection exceptions, insufficient resources (too many
# connections, disk full), operator intervention (shutdown, starting up, canceled), and lock
# conflicts that a retry resolves (serialization failure, deadlock, lock not available).
_SQLSTATE_CLASSES = ("08", "53", "57")
_SQLSTATES = frozenset({"40001", "40P01", "55P03"})

# MariaDB/MySQL error numbers: can't connect (2002, 2003), gone away (2006), lost connection
# (2013, 2055), too many connections (1040), shutdown in progress (1053), lock wait timeout (1205),
# deadlock (1213), connection killed (1927), statement time exceeded (1969, 3024), idle client
# dropped (4031).
_MYSQL_ERRNOS = frozenset(
    {1040, 1053, 1205, 1213, 1927, 1969, 2002, 2003, 2006, 2013, 2055, 3024, 4031}
)

# SQLite: busy or locked past the busy timeout, disk full, I/O error.
_SQLITE_CODES = frozenset({5, 6, 10, 13})

_CONNECTION_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
    }
)


def is_database_unavailable(error: BaseException) -> bool:
    """Tell whether the error means the database cannot be reached or is busy right now."""
    return any(_is_unavailable(cause) for cause in _causes(error))


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, the driver error it wraps, and what it was raised from or during."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (getattr(current, "orig", None), current.__cause__, current.__context__)
        pending.extend(e for e in linked if isinstance(e, BaseException))


def _is_unavailable(error: BaseException) -> bool:
    if isinstance(error, _TRANSIENT):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    if isinstance(error, sqlite3.Error):
        return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_CODES
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate in _SQLSTATES or sqlstate.startswith(_SQLSTATE_CLASSES)
    if isinstance(error, socket.gaierror):
        return True  # the database's host name does not resolve
    if isinstance(error, OSError):
        return error.errno in _CONNECTION_ERRNOS
    if _is_asyncpg_protocol_lost(error):
        return True
    return _mysql_errno(error) in _MYSQL_ERRNOS


def _is_asyncpg_protocol_lost(error: BaseException) -> bool:
    """asyncpg's InternalClientError ("cannot switch to state 12; another operation (2) is in
    progress"): a server that went away mid-operation left the connection's protocol in a state
    it cannot leave. The connection is lost, not the request wrong; the pool's pre-ping drops it."""
    kind = type(error)
    return kind.__name__ == "InternalClientError" and kind.__module__.startswith("asyncpg.")


def _mysql_errno(error: BaseException) -> int | None:
    """The error number of a MariaDB/MySQL driver error: its first argument."""
    if type(error).__module__.split(".")[0] not in {"asyncmy", "pymysql", "MySQLdb"}:
        return None
    code = error.args[0] if error.args else None
    return code if isinstance(code, int) else None
