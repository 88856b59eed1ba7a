"""A real SMTP server on loopback for processes the tests start (`parley serve`, `parley worker`),
in a thread of its own: it records each delivered message,
and can hold new connections unanswered (a stalled mail server) until released."""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from tests.support.servers import spare_port


@dataclass
class SmtpServer:
    port: int
    received: list[Message] = field(default_factory=list)
    connections: int = 0
    _held: threading.Event = field(default_factory=threading.Event)

    def hold(self) -> None:
        """Leave new sessions without a greeting until `release()`."""
        self._held.clear()

    def release(self) -> None:
        self._held.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await asyncio.to_thread(self._held.wait)
            await self._session(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250 test\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                self.received.append(message_from_bytes(data[:-5].replace(b"\r\n..", b"\r\n.")))
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:  # MAIL, RCPT, RSET, NOOP
                writer.write(b"250 ok\r\n")
            await writer.drain()


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """Run an SMTP server on a spare loopback port for the block."""
    server = SmtpServer(spare_port())
    server.release()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stopped: asyncio.Future[None] | None = None

    async def main() -> None:
        nonlocal stopped
        stopped = loop.create_future()
        listener = await asyncio.start_server(server._serve, "127.0.0.1", server.port)
        ready.set()
        async with listener:
            await stopped

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield server
    finally:
        assert stopped is not None
        loop.call_soon_threadsafe(stopped.set_result, None)
        thread.join(10)
        loop.close()


RESET_SUBJECT = "Reset your Parley password"


def reset_mails(server: SmtpServer, to: str | None = None) -> list[Message]:
    """The password-reset mails received (registration also mails a verification link)."""
    return [
        m
        for m in server.received
        if m["Subject"] == RESET_SUBJECT and (to is None or m["To"] == to)
    ]
