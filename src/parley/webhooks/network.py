"""Where webhooks may connect: name resolution, the address guard, and an HTTP transport that
connects only to the addresses it checked.

A URL's host is resolved (without blocking the event loop) and refused when any of its
addresses is loopback, private, link-local, multicast, reserved or otherwise not globally
routable, unless private addresses are allowed. Deliveries resolve again at connection time
and connect to the very address that passed the check, so a name that changes its answer
between the check and the connection (DNS rebinding) cannot reach an internal service; TLS still
verifies the certificate for, and sends SNI with, the URL's host name.
"""

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT_S = 5.0


class AddressRefused(Exception):
    """A host that webhooks may not reach, or that does not resolve; the message says why."""


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Return the addresses a host name stands for (the outside world's DNS: tests replace it)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_S):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def is_public(address: IPAddress) -> bool:
    """Tell whether an address is globally routable unicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Resolve a host and return its addresses, or raise AddressRefused."""
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = await resolve_host(host, port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise AddressRefused("its host name does not resolve") from exc
        if not addresses:
            raise AddressRefused("its host name does not resolve")
    if not allow_private and not all(is_public(address) for address in addresses):
        raise AddressRefused(
            "its host is or resolves to a loopback, private, link-local, multicast or "
            "reserved address"
        )
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks each host as it connects, then connects to a checked address."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port, allow_private=self._allow_private)
        *others, last = addresses
        for address in others:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return await self._inner.connect_tcp(
            str(last), port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("webhooks connect over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes milliseconds: once per process, shared by every transport.
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over the guarded backend: no proxies from the environment (a proxy
    would connect on our behalf, unchecked), no retries of its own."""

    def __init__(self, *, allow_private: bool, max_connections: int = 100) -> None:
        # The shared context: without it httpx loads the CA bundle again for the pool it builds
        # here and throws away, tens of milliseconds of CPU for every delivery attempt.
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx builds its connection pool without a way to pass a network backend; the pool it
        # built is replaced by the same pool over the guarded backend (httpx is pinned exactly).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private=allow_private),
        )
