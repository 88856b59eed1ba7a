"""Shared steps of the chat session, message and media tests, as a client takes them."""

from typing import Any

import httpx

from tests.conftest import Account

API = "/api/v1"
MISSING = "0190a0b0-0000-7000-8000-000000000000"

# The smallest byte strings each detector recognises, padded like real files.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
GIF = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
OGG = b"OggS\x00\x02" + b"\x00" * 64
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 64
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + b"\x00" * 64
AAC = b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64
HTML = b"<!doctype html><html><script>alert(1)</script></html>"


async def new_session(
    http: httpx.AsyncClient, owner: Account, title: str | None = "Shop"
) -> dict[str, Any]:
    """Open a chat session for `owner` and return it."""
    body = {} if title is None else {"title": title}
    response = await http.post(f"{API}/sessions", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def post_text(
    http: httpx.AsyncClient, owner: Account, sid: str, content: str = "Hello", **fields: Any
) -> dict[str, Any]:
    """Post a text message and return it."""
    response = await http.post(
        f"{API}/sessions/{sid}/messages",
        json={"content": content, **fields},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def upload(
    http: httpx.AsyncClient,
    owner: Account,
    sid: str,
    payload: bytes,
    *,
    filename: str = "file.bin",
    content_type: str = "application/octet-stream",
    **fields: str,
) -> httpx.Response:
    """Send a file as a media message and return the raw response."""
    return await http.post(
        f"{API}/sessions/{sid}/messages",
        files={"file": (filename, payload, content_type)},
        data=fields,
        headers=owner.headers,
    )


async def collect(
    http: httpx.AsyncClient, owner: Account, path: str, **params: Any
) -> list[dict[str, Any]]:
    """Follow next_cursor through every page of a list and return all items."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await http.get(f"{API}{path}", params=query, headers=owner.headers)
        assert response.status_code == 200, response.text
        page = response.json()["data"]
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
