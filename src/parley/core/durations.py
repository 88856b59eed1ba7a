"""Durations written as `15m`, `1h`, `24h`, `30d` or plain seconds."""

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")


def parse_duration(text: str | int) -> int:
    """Return the number of seconds a duration stands for."""
    if isinstance(text, int):
        seconds = text
    else:
        match = _DURATION.match(text.lower())
        if match is None:
            raise ValueError("expected a duration such as 900, 15m, 1h, 24h or 30d")
        seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def parse_rate(text: str) -> tuple[int, int]:
    """Return (count, window in seconds) from a rate such as `10/15m`."""
    count, _, window = text.partition("/")
    if not count.strip().isdigit() or int(count) <= 0 or not window:
        raise ValueError("expected a rate such as 10/15m")
    return int(count), parse_duration(window)
