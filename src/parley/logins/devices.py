"""Readable device names for login sessions, derived from the User-Agent."""

from functools import lru_cache

from ua_parser import parse

UNKNOWN_DEVICE = "Unknown device"
MAX_USER_AGENT = 512


@lru_cache(maxsize=1024)
def device_name(user_agent: str | None) -> str:
    """Return e.g. "Firefox on Linux", "Mobile Safari on iOS", or "curl"."""
    if not user_agent:
        return UNKNOWN_DEVICE
    result = parse(user_agent[:MAX_USER_AGENT])
    client = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    if client and system:
        return f"{client} on {system}"[:100]
    if client or system:
        return (client or system or UNKNOWN_DEVICE)[:100]
    # An unknown client: its product token ("python-httpx/0.28" -> "python-httpx") still helps.
    product = user_agent.split("/", 1)[0].split(" ", 1)[0].strip()
    return product[:100] if product.isprintable() and product else UNKNOWN_DEVICE
