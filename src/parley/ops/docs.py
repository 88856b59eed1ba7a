"""API docs served entirely by the service: Swagger UI and ReDoc with the assets that ship in
the fastapi-offline package, so the pages work offline and load nothing from a CDN.

Each page carries its own Content-Security-Policy: scripts only from the service itself plus
the page's one inline bootstrap script, allowed by its hash rather than by 'unsafe-inline'.
"""

import base64
import hashlib
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi_offline import FastAPIOffline

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def create_documented_app(**kwargs: Any) -> FastAPI:
    """Build the FastAPI application with its docs pages and their self-served assets."""
    app: FastAPI = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        static_url=ASSETS_URL,
        swagger_ui_oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        **kwargs,
    )
    app.include_router(_routes(app))
    return app


def page_csp(html: str) -> str:
    """The policy for one docs page: its own inline scripts by hash, everything else from us."""
    sources = ["'self'"] + [
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(html)
    ]
    return (
        f"default-src 'none'; script-src {' '.join(sources)}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "worker-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = page_csp(bytes(page.body).decode())
    return page


def _routes(app: FastAPI) -> Any:
    from fastapi import APIRouter

    router = APIRouter(include_in_schema=False)

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_URL}/{name}"

    @router.get(DOCS_URL)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_csp(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
                swagger_js_url=asset(request, "swagger-ui-bundle.js"),
                swagger_css_url=asset(request, "swagger-ui.css"),
                swagger_favicon_url=asset(request, "favicon.png"),
                swagger_ui_parameters=app.swagger_ui_parameters,
            )
        )

    @router.get(OAUTH2_REDIRECT_URL)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _with_csp(get_swagger_ui_oauth2_redirect_html())

    @router.get(REDOC_URL)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_csp(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=asset(request, "redoc.standalone.js"),
                redoc_favicon_url=asset(request, "favicon.png"),
                with_google_fonts=False,
            )
        )

    return router
