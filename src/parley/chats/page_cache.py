"""Pages of messages a worker answered, kept until their session changes (decision 202).

A page is served from memory only while the access cache's channel is trusted (it carries the
changes between workers, with the same heartbeat proof) and has been for SETTLE_S, and only if
no change to its session was heard since it was read: each session has a version here, bumped
by every change this worker makes or hears of, and a page is kept with the version it was read
at. A writer drops its session's pages in its own worker before it answers, and answers once
its message for the others has come back to it through the channel: Redis has then handed it
to every worker, ahead of any request the client sends next. A worker that its last heartbeat
found alone on the channel tells no one. A deleted user (whose sessions go with it) or a gap in
the channel drops them all. A client that wants the database's word sends
`Cache-Control: no-cache`.
"""

import asyncio
import uuid
from collections.abc import Hashable
from uuid import UUID

import structlog

from parley.core.versioned_cache import VersionedCache
from parley.logins.cache import AccessCache

log = structlog.get_logger("parley.chats")

TOPIC = b"pages"
# Sessions whose changes are counted; past this every page goes, and counting starts over.
MAX_SESSIONS = 10_000
# How long a writer waits for its message to come back; past it the channel is failing, and
# every worker stops trusting it within its heartbeat window anyway.
ECHO_TIMEOUT_S = 0.5
# A worker keeps pages only once its channel has been trusted this long, and tells no one of
# its changes while its last heartbeat, sent less than this ago, found no other worker: one
# that began to listen since keeps nothing read before the change (AccessCache.alone_within).
SETTLE_S = 1.0

Version = tuple[int, int]


class PageCache:
    def __init__(self, channel: AccessCache, pages: VersionedCache | None = None) -> None:
        self._channel = channel
        self._pages = pages or VersionedCache()
        self._generation = 0  # bumped when every page must go
        self._changes: dict[UUID, int] = {}
        # Sessions changed here that the other workers have not been told of yet, and the
        # future of the message that will tell them (one publish at a time carries them all).
        self._untold: set[UUID] = set()
        self._telling: asyncio.Future[None] | None = None
        self._teller: asyncio.Task[None] | None = None
        # Each message this worker sends starts with a mark of its own, so it knows it back.
        self._instance = uuid.uuid4().hex.encode()
        self._sent = 0
        self._echoes: dict[bytes, asyncio.Future[None]] = {}
        channel.follow(TOPIC, self._heard)

    def version(self, session_id: UUID) -> Version | None:
        """The session's version to read a page at; None while no page may be kept."""
        if not self._channel.trusted_for(SETTLE_S):
            return None
        return self._generation, self._changes.get(session_id, 0)

    def get(self, key: Hashable, version: Version) -> bytes | None:
        """The page kept for `key` at `version`, a version `version()` has just given."""
        return self._pages.get(key, version)

    def put(self, key: Hashable, version: Version, page: bytes) -> None:
        """Keep a page read at `version` (taken before the read): a change heard since makes
        it unusable at once."""
        self._pages.put(key, version, page)

    async def changed(self, session_id: UUID) -> None:
        """A committed change to the session's messages or to who may read them: drop its
        pages here, then tell the other workers."""
        self._bump(session_id)
        if not self._channel.publishes or self._channel.alone_within(SETTLE_S):
            return  # no other worker keeps pages
        self._untold.add(session_id)
        if self._telling is None:
            self._telling = asyncio.get_running_loop().create_future()
        telling = self._telling
        if self._teller is None:
            self._teller = asyncio.create_task(self._tell())
        # Shielded: a writer whose client left must not cancel the message for the others.
        await asyncio.shield(telling)

    async def _tell(self) -> None:
        telling: asyncio.Future[None] | None = None
        try:
            while self._telling is not None:
                telling, sessions = self._telling, self._untold
                self._telling, self._untold = None, set()
                if not await self._told(b",".join(str(s).encode() for s in sessions)):
                    # The other workers stop trusting the channel when heartbeats fail too.
                    log.warning("page_changes_not_published", sessions=len(sessions))
                telling.set_result(None)
        finally:
            self._teller = None
            # Stopped mid-way (the worker is shutting down): no writer waits for ever.
            for left in (telling, self._telling):
                if left is not None and not left.done():
                    left.set_result(None)

    async def _told(self, sessions: bytes) -> bool:
        """Publish the sessions' change and wait for it to come back through the channel."""
        self._sent += 1
        mark = self._instance + b"-" + str(self._sent).encode()
        echo = self._echoes[mark] = asyncio.get_running_loop().create_future()
        try:
            if not await self._channel.publish(TOPIC, mark + b" " + sessions):
                return False
            if not self._channel.active:
                return True  # told; this worker's own listener is down and cannot echo it
            async with asyncio.timeout(ECHO_TIMEOUT_S):
                await echo
        except TimeoutError:
            return False
        finally:
            del self._echoes[mark]
        return True

    def _heard(self, payload: bytes | None) -> None:
        if payload is None:
            self._drop_all()
            return
        mark, _, sessions = payload.partition(b" ")
        echo = self._echoes.get(mark)
        if echo is not None:
            # This worker's own message: its sessions are bumped already. A writer that gave
            # up waiting has cancelled its echo; the listener must not trip on it.
            if not echo.done():
                echo.set_result(None)
            return
        for session_id in sessions.split(b","):
            self._bump(UUID(session_id.decode()))

    def _bump(self, session_id: UUID) -> None:
        if session_id not in self._changes and len(self._changes) >= MAX_SESSIONS:
            self._drop_all()
        self._changes[session_id] = self._changes.get(session_id, 0) + 1

    def _drop_all(self) -> None:
        self._generation += 1
        self._changes.clear()
