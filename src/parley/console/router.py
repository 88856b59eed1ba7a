"""/console/: the entry page (never cached) and its assets (cached for a year, by content).

Both carry the console's own Content-Security-Policy: everything from the service itself, no
inline script or style, blob: and data: for the images and players the page builds from media
it fetched with the bearer token, and no framing.
"""

from functools import cache

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from parley.console.assets import ConsoleAssets, load_console
from parley.core.errors import NotFound

CONSOLE_URL = "/console/"
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
ENTRY_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"

router = APIRouter(include_in_schema=False)


@cache
def console_assets() -> ConsoleAssets:
    return load_console()


def _response(body: bytes, content_type: str, cache_control: str) -> Response:
    return Response(
        body,
        media_type=content_type,
        headers={"Content-Security-Policy": CONSOLE_CSP, "Cache-Control": cache_control},
    )


@router.get("/console")
async def console_redirect() -> RedirectResponse:
    # The page's asset URLs are relative to /console/.
    return RedirectResponse(CONSOLE_URL, status_code=308)


@router.get(CONSOLE_URL)
async def console_entry() -> Response:
    return _response(console_assets().entry, "text/html; charset=utf-8", ENTRY_CACHE)


@router.get(CONSOLE_URL + "assets/{name}")
async def console_asset(name: str) -> Response:
    asset = console_assets().assets.get(name)
    if asset is None:
        raise NotFound("No such console asset")
    return _response(asset.body, asset.content_type, ASSET_CACHE)
