"""/console/ is served by the service itself: its own CSP, hashed assets cached for a year,
an entry page that is never cached, gzip over 1 KiB, and nothing from another origin."""

import gzip
import re

import httpx

from parley.console.router import console_assets

FIRST_LOAD_BUDGET = 250_000


async def test_the_entry_page_names_only_hashed_assets_of_the_service(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/console/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    html = response.text
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "no CDN or external URL"
    assert "<script>" not in html and "style=" not in html, "no inline script or style"
    assets = re.findall(r"(?:src|href)=\"(assets/[^\"]+)\"", html)
    assert assets and all(re.fullmatch(r"assets/[\w.-]+\.[0-9a-f]{12}\.\w+", a) for a in assets)


async def test_console_responses_carry_the_consoles_own_policy(client: httpx.AsyncClient) -> None:
    name = console_assets().names["app.js"]
    for path in ("/console/", f"/console/assets/{name}"):
        policy = (await client.get(path)).headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert directives["connect-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
    api_policy = (await client.get("/health/live")).headers["content-security-policy"]
    assert api_policy == "default-src 'none'; frame-ancestors 'none'"


async def test_assets_are_immutable_and_gzipped(client: httpx.AsyncClient) -> None:
    name = console_assets().names["preact.module.js"]

    response = await client.get(f"/console/assets/{name}", headers={"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_module_imports_its_dependencies_by_their_hashed_names(
    client: httpx.AsyncClient,
) -> None:
    names = console_assets().names
    app_js = (await client.get(f"/console/assets/{names['app.js']}")).text
    hooks_js = (await client.get(f"/console/assets/{names['hooks.module.js']}")).text

    assert f'"./{names["api.js"]}"' in app_js
    assert f'"./{names["preact.module.js"]}"' in hooks_js
    assert 'from"preact"' not in hooks_js and "sourceMappingURL" not in hooks_js


async def test_an_unknown_asset_is_404_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/console/assets/app.000000000000.js")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_console_without_its_slash_is_redirected(client: httpx.AsyncClient) -> None:
    response = await client.get("/console")

    assert response.status_code == 308
    assert response.headers["location"] == "/console/"


def test_the_first_load_fits_in_its_budget() -> None:
    assets = console_assets()
    first_load = [assets.entry, *(asset.body for asset in assets.assets.values())]

    assert sum(len(gzip.compress(body, 6)) for body in first_load) <= FIRST_LOAD_BUDGET
