"""The events domain's injectables: its service, and who opens a stream (a bearer token or a
stream ticket)."""

from typing import Annotated

from fastapi import Depends, Query, Request

from parley.api.deps import current_principal
from parley.api.openapi import answers
from parley.api.resources import Resources
from parley.auth.service import Principal
from parley.events.errors import InvalidTicket
from parley.events.service import EventService


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def get_event_service(request: Request) -> EventService:
    return EventService(_resources(request).database)


EventServiceDep = Annotated[EventService, Depends(get_event_service)]


@answers(401, 503)
async def stream_principal(
    request: Request,
    ticket: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=128,
            description="A ticket from POST /events/ticket, for clients that cannot send headers",
        ),
    ] = None,
) -> Principal:
    """The stream's owner: from a single-use ticket when one is given, else the bearer token.
    A ticket's stream belongs to the login session that asked for the ticket."""
    if ticket is None:
        return await current_principal(request)
    resources = _resources(request)
    found = await resources.event_tickets.redeem(ticket)
    if found is None:
        raise InvalidTicket
    user_id, login_session_id = found
    user = await EventService(resources.database).login_live(
        resources.access_cache, user_id=user_id, login_session_id=login_session_id
    )
    if user is None:
        raise InvalidTicket
    request.scope.setdefault("state", {})["user_id"] = user.id
    return Principal(user=user, login_session_id=login_session_id)


StreamPrincipal = Annotated[Principal, Depends(stream_principal)]
