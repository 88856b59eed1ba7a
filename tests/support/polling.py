"""Wait for what background work brings about, with a generous deadline and no fixed sleep."""

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, within: float = 30, what: str = "condition"
) -> None:
    """Return once `check()` holds; fail after `within` seconds. The pause between checks
    grows from 50 ms to 0.5 s, so a check through the API stays inside its rate limits."""
    deadline = time.monotonic() + within
    pause = 0.05
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.5)
