"""Turn an exception that escaped every handler into a 500 envelope, inside the other
middleware so the response still carries the request id and security headers."""

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.api.errors import internal_error_response


class UnhandledErrorMiddleware:
    def __init__(self, app: ASGIApp, *, development: bool) -> None:
        self.app = app
        self.development = development  # the app's own settings, not the process environment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def track(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, track)
        except ClientDisconnect:
            return  # the client left mid-request: nobody is there to answer, and it is no bug
        except Exception as exc:
            if started:
                raise  # too late for an error body; the server closes the connection
            await internal_error_response(exc, development=self.development)(scope, receive, send)
