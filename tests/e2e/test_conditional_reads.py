"""Conditional GETs: every JSON read carries an `ETag`; a client that sends it back in
`If-None-Match` gets 304 with no body until the resource changes."""

import gzip

import httpx

from tests.conftest import Account
from tests.e2e.chat_helpers import API, PNG, new_session, post_text, upload


async def test_a_read_answers_304_until_the_resource_changes(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice, title="Spring sale")
    url = f"{API}/sessions/{session['id']}"
    first = await client.get(url, headers=alice.headers)
    tag = first.headers["etag"]
    assert tag.startswith('W/"') and tag.endswith('"')

    again = await client.get(url, headers={**alice.headers, "If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    assert "content-type" not in again.headers
    # A 304 is still a response of this service: it carries the headers every response does.
    assert again.headers["x-request-id"]
    assert again.headers["x-content-type-options"] == "nosniff"

    renamed = await client.patch(url, json={"title": "Summer sale"}, headers=alice.headers)
    assert renamed.status_code == 200
    changed = await client.get(url, headers={**alice.headers, "If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.json()["data"]["title"] == "Summer sale"
    assert changed.headers["etag"] != tag


async def test_pages_are_tagged_and_a_new_message_changes_the_tag(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    await post_text(client, alice, session["id"], "Hello")
    url = f"{API}/sessions/{session['id']}/messages"
    page = await client.get(url, headers=alice.headers)
    tag = page.headers["etag"]
    assert (await client.get(url, headers={**alice.headers, "If-None-Match": tag})).status_code == (
        304
    )

    await post_text(client, alice, session["id"], "Anyone there?")
    fresh = await client.get(url, headers={**alice.headers, "If-None-Match": tag})
    assert fresh.status_code == 200
    assert [m["content"] for m in fresh.json()["data"]["items"]] == ["Hello", "Anyone there?"]


async def test_if_none_match_uses_weak_comparison_and_lists(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url = f"{API}/users/me"
    tag = (await client.get(url, headers=alice.headers)).headers["etag"]
    strong = tag.removeprefix("W/")
    for header in (strong, f'"other", {tag}', "*"):
        response = await client.get(url, headers={**alice.headers, "If-None-Match": header})
        assert response.status_code == 304, header
    other = await client.get(url, headers={**alice.headers, "If-None-Match": '"other"'})
    assert other.status_code == 200
    assert other.json()["data"]["email"] == alice.email


async def test_the_tag_is_the_same_for_gzip_and_plain_bodies(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    for n in range(12):
        await post_text(client, alice, session["id"], f"Message number {n} " + "x" * 80)
    url = f"{API}/sessions/{session['id']}/messages"
    plain = await client.get(url, headers={**alice.headers, "Accept-Encoding": "identity"})
    zipped = await client.send(
        client.build_request("GET", url, headers={**alice.headers, "Accept-Encoding": "gzip"}),
        stream=True,
    )
    raw = b"".join([chunk async for chunk in zipped.aiter_raw()])
    await zipped.aclose()
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content
    assert zipped.headers["etag"] == plain.headers["etag"]
    not_modified = await client.get(
        url,
        headers={
            **alice.headers,
            "Accept-Encoding": "gzip",
            "If-None-Match": plain.headers["etag"],
        },
    )
    assert not_modified.status_code == 304
    assert "content-encoding" not in not_modified.headers


async def test_head_is_tagged_like_get(client: httpx.AsyncClient, alice: Account) -> None:
    url = f"{API}/users/me"
    get = await client.get(url, headers=alice.headers)
    head = await client.head(url, headers=alice.headers)
    assert head.headers["etag"] == get.headers["etag"]
    matched = await client.head(
        url, headers={**alice.headers, "If-None-Match": get.headers["etag"]}
    )
    assert matched.status_code == 304


async def test_errors_writes_and_files_carry_no_tag(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(f"{API}/sessions", json={"title": "x"}, headers=alice.headers)
    assert created.status_code == 201 and "etag" not in created.headers
    missing = await client.get(
        f"{API}/sessions/0190a0b0-0000-7000-8000-000000000000", headers=alice.headers
    )
    assert missing.status_code == 404 and "etag" not in missing.headers
    uploaded = await upload(
        client, alice, created.json()["data"]["id"], PNG, filename="a.png", content_type="image/png"
    )
    message = uploaded.json()["data"]
    media = await client.get(message["media"]["url"], headers=alice.headers)
    assert media.status_code == 200 and "etag" not in media.headers


async def test_the_openapi_documents_304_on_json_reads(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    read = schema["paths"][f"{API}/sessions/{{chat_session_id}}"]["get"]
    assert "304" in read["responses"]
    assert "ETag" in read["responses"]["200"]["headers"]
    assert any(p["name"] == "If-None-Match" for p in read["parameters"])
    media = schema["paths"][f"{API}/media/{{media_id}}"]["get"]
    assert "304" not in media["responses"]
