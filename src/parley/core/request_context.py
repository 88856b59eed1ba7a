"""Who is asking, for the records a request leaves behind (the audit log): set once per request
by the edge layer, read by services without being passed through every call."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


_NO_REQUEST = RequestContext()
_current: ContextVar[RequestContext] = ContextVar("parley_request_context", default=_NO_REQUEST)


def current_request() -> RequestContext:
    """The request being served (empty outside one: the CLI, background work)."""
    return _current.get()


def enter_request(context: RequestContext) -> object:
    """Make `context` current; return what `leave_request` needs to restore the previous one."""
    return _current.set(context)


def leave_request(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
