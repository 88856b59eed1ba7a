"""One delivery attempt over HTTP: a signed POST, its answer read as an outcome."""

import asyncio
from dataclasses import dataclass

import httpx

from parley.webhooks.network import AddressRefused, GuardedTransport

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """The receiver says the endpoint is gone for good (410): the webhook is disabled."""
        return self.status_code == 410


async def post(
    url: str, *, headers: dict[str, str], body: str, within: float, allow_private: bool
) -> Outcome:
    """POST a signed body; a 2xx within `within` seconds is a success, redirects are not
    followed, and the answer's body is never read."""
    transport = GuardedTransport(allow_private=allow_private)
    try:
        async with (
            httpx.AsyncClient(
                transport=transport, follow_redirects=False, timeout=within
            ) as client,
            asyncio.timeout(within),
            client.stream("POST", url, headers=headers, content=body.encode()) as response,
        ):
            code = response.status_code
    except AddressRefused as refused:
        return Outcome(None, f"Refused: {refused}")
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(None, f"No answer within {within:g} s")
    except httpx.HTTPError as exc:
        return Outcome(None, _clip(f"Could not connect: {type(exc).__name__} {exc}".strip()))
    if 200 <= code < 300:
        return Outcome(code, None)
    if 300 <= code < 400:
        return Outcome(code, f"Answered {code}: redirects are not followed")
    return Outcome(code, f"Answered {code}")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"
