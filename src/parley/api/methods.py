"""HTTP methods beyond the routes' own: HEAD wherever GET is (RFC 9110), and an exact
`Allow` on 405.

HEAD is answered by the GET route: every layer sees HEAD (logs, metrics, rate limits), only
the router is handed GET (`HeadAsGet`, innermost), and the outermost `HeadWithoutBody` drops
the body, so a HEAD carries exactly the headers its GET would, gzip included. HEAD is not an
operation of its own in the OpenAPI.
"""

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers on this request's path, for a 405's `Allow`."""
    allowed: set[str] = set()
    for route in app.router.routes:
        # Each included router matches the path (PARTIAL when the method differs); ask it
        # again with each method its routes use.
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            match, _ = route.matches({**scope, "method": method})
            if match == Match.FULL:
                allowed.add(method)
    if "GET" in allowed:
        allowed.add("HEAD")  # see HeadAsGet
    return sorted(allowed)


class HeadWithoutBody:
    """Outermost layer: a HEAD response keeps every header of its GET and sends no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, send_headers_only)


# Set in the scope of a HEAD served by its GET route, for a route that must not start a body it
# would never end (the event stream).
HEAD_SCOPE_KEY = "parley.head"


class HeadAsGet:
    """Innermost layer: the router serves a HEAD with the path's GET route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope = {**scope, "method": "GET", HEAD_SCOPE_KEY: True}
        await self.app(scope, receive, send)
