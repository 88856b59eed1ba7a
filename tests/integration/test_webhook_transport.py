"""The delivery transport against a real receiver on loopback: it connects to the address it
checked, keeps the URL's host in the request, and never reaches a refused address."""

import ipaddress
from collections.abc import AsyncIterator

import pytest

from parley.webhooks import network, sender
from tests.support.webhook_receiver import Receiver, Redirect, Sleep


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = await Receiver().start()
    yield running
    await running.stop()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name the outside DNS answers with a loopback address (the external boundary)."""
    real = network.resolve_host

    async def resolve(host: str, port: int) -> list[network.IPAddress]:
        if host == "hooks.example.com":
            return [ipaddress.ip_address("127.0.0.1")]
        return await real(host, port)

    monkeypatch.setattr(network, "resolve_host", resolve)


async def _post(url: str, *, allow_private: bool, within: float = 5.0) -> sender.Outcome:
    return await sender.post(
        url, headers={"content-type": "application/json"}, body="{}", within=within,
        allow_private=allow_private,
    )  # fmt: skip


async def test_a_2xx_is_a_success(receiver: Receiver) -> None:
    receiver.script(204)
    outcome = await _post(receiver.url(), allow_private=True)
    assert outcome.succeeded and outcome.status_code == 204 and outcome.error is None
    assert receiver.received[0].body == b"{}"


async def test_other_statuses_redirects_and_timeouts_are_failures(receiver: Receiver) -> None:
    receiver.script(500, 410, Redirect(receiver.url("/elsewhere")), Sleep(3))
    failed = await _post(receiver.url(), allow_private=True)
    assert not failed.succeeded and failed.status_code == 500
    gone = await _post(receiver.url(), allow_private=True)
    assert gone.gone and not gone.succeeded
    moved = await _post(receiver.url(), allow_private=True)
    assert moved.status_code == 302 and "redirect" in (moved.error or "")
    slow = await _post(receiver.url(), allow_private=True, within=0.5)
    assert slow.status_code is None and "0.5 s" in (slow.error or "")
    assert [r.path for r in receiver.received] == ["/hook"] * 4  # the redirect was not followed


async def test_a_connection_refused_is_a_failure_with_its_reason() -> None:
    stopped = await Receiver().start()
    url = stopped.url()
    await stopped.stop()
    outcome = await _post(url, allow_private=True)
    assert outcome.status_code is None and outcome.error and "connect" in outcome.error.lower()


@pytest.mark.usefixtures("rebinding")
async def test_a_name_that_resolves_to_loopback_is_never_connected_when_guarded(
    receiver: Receiver,
) -> None:
    outcome = await _post(receiver.url(host="hooks.example.com"), allow_private=False)
    assert outcome.status_code is None
    assert outcome.error and outcome.error.startswith("Refused")
    assert receiver.received == []


@pytest.mark.usefixtures("rebinding")
async def test_the_transport_connects_to_the_address_it_resolved_keeping_the_host(
    receiver: Receiver,
) -> None:
    # The name exists only in our resolver: reaching the receiver proves the connection went to
    # the address the transport resolved and checked, not to a second look-up of its own.
    outcome = await _post(receiver.url(host="hooks.example.com"), allow_private=True)
    assert outcome.succeeded
    assert receiver.received[0].headers["host"] == f"hooks.example.com:{receiver.port}"


async def test_literal_private_addresses_are_refused_when_guarded(receiver: Receiver) -> None:
    for url in (receiver.url(), f"http://[::1]:{receiver.port}/hook"):
        outcome = await _post(url, allow_private=False)
        assert outcome.error and outcome.error.startswith("Refused")
    assert receiver.received == []
