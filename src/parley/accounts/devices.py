"""What makes a sign-in's device "the same" for new-device notices: browser family, operating
system and client network (IPv4 /24, IPv6 /48)."""

import ipaddress
from functools import lru_cache

from ua_parser import parse

from parley.logins.devices import MAX_USER_AGENT

DeviceSignature = tuple[str, str, str]


@lru_cache(maxsize=1024)
def device_signature(user_agent: str | None, ip_address: str | None) -> DeviceSignature:
    family = system = ""
    if user_agent:
        result = parse(user_agent[:MAX_USER_AGENT])
        family = result.user_agent.family if result.user_agent else ""
        system = result.os.family if result.os else ""
    return family, system, client_network(ip_address)


def client_network(ip_address: str | None) -> str:
    if not ip_address:
        return ""
    try:
        address = ipaddress.ip_address(ip_address)
    except ValueError:
        return ip_address
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network((address, prefix), strict=False))
