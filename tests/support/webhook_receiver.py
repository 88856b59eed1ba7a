"""A real HTTP receiver of webhooks on loopback (uvicorn in the test's event loop), with
scripted answers, and a Standard Webhooks verifier written from the specification, apart from
the signing code under test."""

import asyncio
import base64
import hashlib
import hmac
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.types import Receive, Scope, Send

TOLERANCE_S = 300


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.body)
        return data


@dataclass(frozen=True)
class Sleep:
    """Answer only after this many seconds (a receiver too slow for the timeout)."""

    seconds: float
    status: int = 200


@dataclass(frozen=True)
class Redirect:
    location: str
    status: int = 302


Answer = int | Sleep | Redirect


def signatures_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Verify per the Standard Webhooks spec: one of the space-separated `v1,` signatures is
    the base64 HMAC-SHA256, keyed with the base64-decoded secret, of `id.timestamp.body`, and
    the timestamp is within five minutes."""
    message_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > TOLERANCE_S:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [
        part.split(",", 1)[1] for part in headers["webhook-signature"].split(" ") if "," in part
    ]
    versions = [part.split(",", 1)[0] for part in headers["webhook-signature"].split(" ")]
    return set(versions) == {"v1"} and any(hmac.compare_digest(expected, s) for s in offered)


@dataclass
class Receiver:
    """Records every request; answers with the scripted answers in order, then `default`."""

    default: Answer = 200
    received: list[Received] = field(default_factory=list)
    answers: deque[Answer] = field(default_factory=deque)
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    def script(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(scope["path"], headers, body))
        answer = self.answers.popleft() if self.answers else self.default
        extra: list[tuple[bytes, bytes]] = []
        if isinstance(answer, Sleep):
            await asyncio.sleep(answer.seconds)
            status = answer.status
        elif isinstance(answer, Redirect):
            status = answer.status
            extra = [(b"location", answer.location.encode())]
        else:
            status = answer
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b"ok"})

    async def start(self) -> "Receiver":
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            await self._task
            self._server = self._task = None


async def eventually(check: Callable[[], Any], *, within: float = 30.0) -> Any:
    """Poll until `check()` is truthy (awaiting it when it is a coroutine); return its value."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {check}")
        await asyncio.sleep(0.05)
