"""A real SMTP server on loopback (aiosmtpd) whose received messages tests read."""

import asyncio
import email
import email.policy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support.servers import spare_port


@dataclass
class ReceivedMail:
    to: str
    subject: str
    body: str


@dataclass
class Inbox:
    """What the server received, in order; `wait_for` polls with a generous deadline."""

    messages: list[ReceivedMail] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        for recipient in envelope.rcpt_tos:
            self.messages.append(ReceivedMail(recipient, str(message["Subject"]), text))
        return "250 OK"

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if m.to == address]

    async def wait_for(
        self, address: str, *, count: int = 1, within: float = 20.0
    ) -> list[ReceivedMail]:
        deadline = time.monotonic() + within
        while len(self.to(address)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} mail(s) to {address} expected: {self.messages}")
            await asyncio.sleep(0.02)
        return self.to(address)


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    @property
    def settings(self) -> dict[str, Any]:
        return {"smtp_host": self.host, "smtp_port": self.port}


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """Import this into a test module to use the `smtp_server` fixture."""
    inbox = Inbox()
    port = spare_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()
