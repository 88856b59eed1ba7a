"""HTTP routes of the event log: the catch-up feed, stream tickets and the live stream."""

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Header, Query, Request, Response, status
from sse_starlette import EventSourceResponse, ServerSentEvent

from parley.api.deps import CurrentPrincipal, CurrentUser, PageDep
from parley.api.methods import HEAD_SCOPE_KEY
from parley.api.openapi import errors
from parley.api.resources import Resources
from parley.core.schemas import Envelope, Page
from parley.db.fast import envelope
from parley.events.dependencies import EventServiceDep, StreamPrincipal
from parley.events.errors import MalformedEventCursor, MalformedLastEventId
from parley.events.fanout import Filters, render
from parley.events.schemas import EventRead, TicketRead
from parley.events.service import LOGIN_CHECK_S, parse_types
from parley.events.tickets import TICKET_TTL_S
from parley.events.types import format_id, parse_id

router = APIRouter()

# A stream notices a shutdown within LOGIN_CHECK_S; it is cut off after this.
STOP_GRACE_S = LOGIN_CHECK_S + 1

_TYPE = (
    r"session\.(created|updated|deleted)|message\.(created|deleted)"
    r"|vendor\.(created|updated|deleted)|seller\.(created|updated|deleted)|webhook\.test"
)
TypesQuery = Annotated[
    str | None,
    Query(
        max_length=1024,
        pattern=rf"^ *({_TYPE})? *(, *({_TYPE})? *)*$",
        description="Comma-separated event types to keep, e.g. message.created,message.deleted",
    ),
]
SessionQuery = Annotated[UUID | None, Query(description="Only this chat session's events")]

_STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `id:`, `event:` and `data:` (the event as JSON) "
        "lines per event, a comment line when idle",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


@router.get("/events", response_model=Envelope[Page[EventRead]], responses=errors(400))
async def list_events(
    user: CurrentUser,
    page: PageDep,
    events: EventServiceDep,
    types: TypesQuery = None,
    session_id: SessionQuery = None,
) -> Response:
    """The caller's chat sessions' events after `cursor` (an event id), oldest first;
    `next_cursor` is null when the newest event is on this page."""
    after = 0
    if page.cursor is not None:
        parsed = parse_id(page.cursor)
        if parsed is None:
            raise MalformedEventCursor
        after = parsed
    filters = Filters(types=parse_types(types), session_id=session_id)
    rows, more = await events.page(user=user, after=after, limit=page.limit, filters=filters)
    next_cursor = format_id(rows[-1].id) if more else None
    body = envelope("Events", {"items": [render(r) for r in rows], "next_cursor": next_cursor})
    return Response(body, media_type="application/json")


@router.post("/events/ticket", status_code=status.HTTP_201_CREATED)
async def issue_ticket(request: Request, principal: CurrentPrincipal) -> Envelope[TicketRead]:
    """A single-use, 60-second credential for `GET /events/stream?ticket=` (a browser's
    EventSource cannot send headers); the stream belongs to this login session. An API key
    opens the stream itself: here it is 403 `insufficient_scope`."""
    ticket = await _resources(request).event_tickets.issue(
        user_id=principal.user.id, login_session_id=principal.login_session_id
    )
    return Envelope(
        message="Ticket issued", data=TicketRead(ticket=ticket, expires_in=TICKET_TTL_S)
    )


@router.get(
    "/events/stream", response_class=Response, responses={**_STREAM_RESPONSE, **errors(400)}
)
async def stream_events(
    request: Request,
    principal: StreamPrincipal,
    events: EventServiceDep,
    types: TypesQuery = None,
    session_id: SessionQuery = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="Resume after this event id, with nothing missed or repeated",
        ),
    ] = None,
) -> Response:
    """The caller's chat sessions' events as they are committed (Server-Sent Events). Without
    Last-Event-ID the stream starts with the next event. Opened with an API key (read scope is
    enough), it lives as long as the key."""
    filters = Filters(types=parse_types(types), session_id=session_id)
    if last_event_id is not None and last_event_id.strip():
        after = parse_id(last_event_id.strip())
        if after is None:
            raise MalformedLastEventId
    else:  # absent, or empty as EventSource never sends it: from the next event
        after = await events.last_id(principal.user)
    resources = _resources(request)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if request.scope.get(HEAD_SCOPE_KEY):  # a HEAD: the headers, and no endless body
        return Response(media_type="text/event-stream", headers=headers)
    shutdown = anyio.Event()  # set by the SSE response when the server begins to stop
    feed = events.stream(
        user=principal.user,
        login_session_id=principal.login_session_id,
        api_key=principal.api_key,
        after=after,
        filters=filters,
        fanout=resources.event_fanout,
        cache=resources.access_cache,
        heartbeat=resources.settings.event_stream_heartbeat,
        stopping=shutdown.is_set,
    )

    async def messages() -> AsyncIterator[ServerSentEvent | bytes]:
        yield ServerSentEvent(comment="stream open")  # the head and a first byte, at once
        async with aclosing(feed):  # closed with the response: the stream leaves the feed
            async for event in feed:
                # An event's frame is built once per process and shared by the streams it goes to.
                yield ServerSentEvent(comment="keep-alive") if event is None else event.frame

    # On shutdown the stream ends cleanly (its last chunk sent) within the grace period, so a
    # client reconnects (to another worker) with its Last-Event-ID.
    return EventSourceResponse(
        messages(),
        headers=headers,
        ping=0,
        shutdown_event=shutdown,
        shutdown_grace_period=STOP_GRACE_S,
    )
