"""Media messages and downloads through HTTP: detection by bytes, limits, clean-up, access."""

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Account, assert_error, make_client
from tests.e2e.chat_helpers import (
    AAC,
    API,
    ELF,
    GIF,
    HTML,
    JPEG,
    M4A,
    MISSING,
    MP3,
    MP4,
    OGG,
    PDF,
    PNG,
    WEBP,
    new_session,
    post_text,
    upload,
)
from tests.support.polling import eventually


def stored_files(app: FastAPI) -> list[Path]:
    """Every file under MEDIA_DIR, drafts included."""
    root = Path(app.state.resources.settings.media_dir)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


async def _count(http: httpx.AsyncClient, who: Account, sid: str) -> int:
    response = await http.get(f"{API}/sessions/{sid}", headers=who.headers)
    return int(response.json()["data"]["message_count"])


@pytest.mark.parametrize(
    ("payload", "kind", "content_type"),
    [
        (JPEG, "image", "image/jpeg"),
        (PNG, "image", "image/png"),
        (WEBP, "image", "image/webp"),
        (GIF, "image", "image/gif"),
        (OGG, "audio", "audio/ogg"),
        (MP3, "audio", "audio/mpeg"),
        (M4A, "audio", "audio/mp4"),
        (AAC, "audio", "audio/aac"),
        (MP4, "video", "video/mp4"),
        (PDF, "document", "application/pdf"),
    ],
)
async def test_each_accepted_format_is_recognised_by_its_bytes(
    client: httpx.AsyncClient,
    alice: Account,
    payload: bytes,
    kind: str,
    content_type: str,
) -> None:
    session = await new_session(client, alice)
    # The name and the declared type say nothing true; only the bytes count.
    response = await upload(
        client, alice, session["id"], payload, filename="upload.txt", content_type="text/html"
    )
    assert response.status_code == 201, response.text
    message = response.json()["data"]
    assert message["kind"] == kind
    media = message["media"]
    assert set(media) == {"id", "content_type", "size", "filename", "url"}
    assert media["content_type"] == content_type
    assert media["size"] == len(payload)
    assert media["filename"] == "upload.txt"
    assert media["url"] == f"/api/v1/media/{media['id']}"


async def test_a_media_message_carries_caption_sender_and_phone_number(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    response = await upload(
        client,
        alice,
        session["id"],
        PNG,
        filename="shoe.png",
        content="  Our red shoe  ",
        sender="customer",
        phone_number="+14155552671",
    )
    assert response.status_code == 201, response.text
    message = response.json()["data"]
    assert message["content"] == "Our red shoe"
    assert message["sender"] == "customer"
    assert message["phone_number"] == "+14155552671"
    assert await _count(client, alice, session["id"]) == 1


async def test_an_empty_caption_is_no_caption(client: httpx.AsyncClient, alice: Account) -> None:
    session = await new_session(client, alice)
    response = await upload(client, alice, session["id"], PNG, content="   ")
    assert response.status_code == 201, response.text
    assert response.json()["data"]["content"] is None


@pytest.mark.parametrize(
    ("payload", "filename", "content_type"),
    [
        (HTML, "cat.png", "image/png"),
        (ELF, "report.pdf", "application/pdf"),
        (b"MZ\x90\x00\x03" + b"\x00" * 64, "setup.pdf", "application/pdf"),
        (b"PK\x03\x04" + b"\x00" * 64, "archive.jpg", "image/jpeg"),
        (b"just some text", "notes.mp3", "audio/mpeg"),
    ],
)
async def test_anything_else_is_415_and_nothing_is_kept(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    payload: bytes,
    filename: str,
    content_type: str,
) -> None:
    session = await new_session(client, alice)
    response = await upload(
        client, alice, session["id"], payload, filename=filename, content_type=content_type
    )
    assert_error(response, 415, "unsupported_media_type")
    assert stored_files(app) == []
    assert await _count(client, alice, session["id"]) == 0


async def test_an_empty_file_is_422(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    assert_error(await upload(client, alice, session["id"], b""), 422, "validation_error")
    assert stored_files(app) == []


async def test_a_file_over_media_max_bytes_is_413_and_nothing_is_kept(
    app_factory: Any, alice: Account
) -> None:
    app = await app_factory(media_max_bytes=64 * 1024)
    async with make_client(app) as http:
        session = await new_session(http, alice)
        exactly = await upload(http, alice, session["id"], PNG + b"\x00" * (64 * 1024 - len(PNG)))
        assert exactly.status_code == 201, exactly.text
        over = await upload(http, alice, session["id"], PNG + b"\x00" * (64 * 1024))
        assert_error(over, 413, "payload_too_large")
        far_over = await upload(http, alice, session["id"], PNG + b"\x00" * (2 * 1024 * 1024))
        assert_error(far_over, 413, "payload_too_large")
        assert len(stored_files(app)) == 1
        assert await _count(http, alice, session["id"]) == 1


async def test_media_may_be_larger_than_the_json_body_limit(
    app_factory: Any, alice: Account
) -> None:
    app = await app_factory(max_body_bytes=4096, media_max_bytes=1024 * 1024)
    async with make_client(app) as http:
        session = await new_session(http, alice)
        response = await upload(http, alice, session["id"], PDF + b"\x00" * 500_000)
        assert response.status_code == 201, response.text
        assert response.json()["data"]["media"]["size"] == len(PDF) + 500_000


async def test_bad_form_fields_are_422_and_the_stored_file_is_removed(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    sid = session["id"]
    for fields in (
        {"sender": "robot"},
        {"phone_number": "12"},
        {"content": "x" * 4097},
        {"content": "a\x00b"},
        {"user_id": MISSING},
        {"session_id": MISSING},
        {"kind": "video"},
    ):
        response = await upload(client, alice, sid, PNG, **fields)
        assert_error(response, 422, "validation_error")
    assert stored_files(app) == []
    assert await _count(client, alice, sid) == 0


async def test_a_multipart_body_without_a_file_or_with_two_is_422(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    path = f"{API}/sessions/{(await new_session(client, alice))['id']}/messages"
    no_file = await client.post(path, files={"content": (None, "hi")}, headers=alice.headers)
    assert_error(no_file, 422, "validation_error")
    two = await client.post(
        path,
        files=[("file", ("a.png", PNG, "image/png")), ("file", ("b.png", PNG, "image/png"))],
        headers=alice.headers,
    )
    assert_error(two, 422, "validation_error")
    other_name = await client.post(
        path, files={"attachment": ("a.png", PNG, "image/png")}, headers=alice.headers
    )
    assert_error(other_name, 422, "validation_error")
    assert stored_files(app) == []


@pytest.mark.parametrize(
    "body",
    [
        b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + PNG,
        b"not multipart at all",
        b"--XYZ\r\nbroken-header\r\n\r\nx\r\n--XYZ--\r\n",
    ],
)
async def test_a_malformed_multipart_body_is_a_client_error(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, body: bytes
) -> None:
    session = await new_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages",
        content=body,
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=XYZ"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["status"] == "error"
    assert stored_files(app) == []


async def test_a_multipart_body_without_boundary_is_400(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages",
        content=b"x",
        headers={**alice.headers, "Content-Type": "multipart/form-data"},
    )
    assert_error(response, 400, "bad_request")


def _raw_upload(disposition: bytes, payload: bytes) -> bytes:
    return (
        b'--XYZ\r\nContent-Disposition: form-data; name="file"' + disposition + b"\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n--XYZ--\r\n"
    )


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b'; filename="../../etc/passwd.png"', "passwd.png"),
        (b'; filename="C:\\Users\\me\\photo.png"', "photo.png"),
        (b'; filename="/abs/dir\\sub/x.png"', "x.png"),
        (b'; filename="bad\x01\x1fname\xe2\x80\xae.png"', "badname.png"),
        (b'; filename=".."', "image.png"),
        (b'; filename=""', "image.png"),
        (b"", "image.png"),
        (b'; filename="' + "ü".encode() * 300 + b'.png"', "ü" * 255),
        (b'; filename="caf\xc3\xa9.png"', "café.png"),
    ],
)
async def test_the_filename_is_sanitised(
    client: httpx.AsyncClient, alice: Account, sent: bytes, kept: str
) -> None:
    session = await new_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages",
        content=_raw_upload(sent, PNG),
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=XYZ"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["media"]["filename"] == kept


async def test_downloading_streams_the_bytes_with_safe_headers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    payload = JPEG + bytes(range(256)) * 1000
    posted = await upload(
        client, alice, session["id"], payload, filename="Fotó été.jpg", content_type="text/html"
    )
    media = posted.json()["data"]["media"]
    response = await client.get(media["url"], headers=alice.headers)
    assert response.status_code == 200
    assert response.content == payload
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(payload))
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Fot%C3%B3%20%C3%A9t%C3%A9.jpg" in disposition
    assert 'filename="Fot_ _t_.jpg"' in disposition
    assert "status" not in response.text[:20]


async def test_media_of_another_user_is_404_and_an_admin_downloads_it(
    client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    session = await new_session(client, alice)
    media = (await upload(client, alice, session["id"], GIF)).json()["data"]["media"]
    assert_error(await client.get(media["url"], headers=bob.headers), 404, "not_found")
    assert (await client.get(media["url"], headers=admin.headers)).content == GIF
    assert_error(await client.get(media["url"]), 401, "unauthorized")
    assert_error(
        await client.get(f"{API}/media/{MISSING}", headers=alice.headers), 404, "not_found"
    )
    assert_error(
        await client.get(f"{API}/media/abc", headers=alice.headers), 422, "validation_error"
    )


async def test_a_download_whose_file_vanished_is_404_and_the_message_still_reads(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    message = (await upload(client, alice, session["id"], PNG)).json()["data"]
    (stored,) = stored_files(app)
    stored.unlink()
    # Lost bytes do not come back by retrying: a 404, not a 503.
    assert_error(await client.get(message["media"]["url"], headers=alice.headers), 404, "not_found")
    shown = await client.get(f"{API}/messages/{message['id']}", headers=alice.headers)
    assert shown.status_code == 200
    assert shown.json()["data"]["media"] == message["media"]


async def test_deleting_a_message_removes_its_file(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    message = (await upload(client, alice, session["id"], PDF)).json()["data"]
    assert len(stored_files(app)) == 1
    response = await client.delete(f"{API}/messages/{message['id']}", headers=alice.headers)
    assert response.status_code == 200, response.text
    await eventually(lambda: stored_files(app) == [], what="the file's removal")
    assert_error(await client.get(message["media"]["url"], headers=alice.headers), 404, "not_found")


async def test_a_refused_message_deletion_keeps_the_file(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    session = await new_session(client, alice)
    message = (await upload(client, alice, session["id"], PDF)).json()["data"]
    for who, status in ((bob, 404), (admin, 403)):
        response = await client.delete(f"{API}/messages/{message['id']}", headers=who.headers)
        assert response.status_code == status
    assert len(stored_files(app)) == 1
    assert (await client.get(message["media"]["url"], headers=alice.headers)).content == PDF


async def test_deleting_a_session_removes_every_file_of_it(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    kept = await new_session(client, alice, title="kept")
    kept_media = (await upload(client, alice, kept["id"], PNG)).json()["data"]["media"]
    session = await new_session(client, alice)
    urls = []
    for payload in (PNG, MP3, MP4):
        urls.append(
            (await upload(client, alice, session["id"], payload)).json()["data"]["media"]["url"]
        )
    await post_text(client, alice, session["id"])
    assert len(stored_files(app)) == 4
    response = await client.delete(f"{API}/sessions/{session['id']}", headers=alice.headers)
    assert response.status_code == 200, response.text
    await eventually(lambda: len(stored_files(app)) == 1, what="the files' removal")
    for url in urls:
        assert_error(await client.get(url, headers=alice.headers), 404, "not_found")
    assert (await client.get(kept_media["url"], headers=alice.headers)).content == PNG


async def test_a_message_page_shows_its_media(client: httpx.AsyncClient, alice: Account) -> None:
    session = await new_session(client, alice)
    posted = (await upload(client, alice, session["id"], OGG, filename="voice.ogg")).json()["data"]
    listed = await client.get(f"{API}/sessions/{session['id']}/messages", headers=alice.headers)
    assert listed.json()["data"]["items"] == [posted]
    one = await client.get(f"{API}/messages/{posted['id']}", headers=alice.headers)
    assert one.json()["data"]["media"] == posted["media"]


async def test_the_openapi_document_describes_both_message_bodies(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/sessions/{chat_session_id}/messages"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    assert content["application/json"]["schema"]["required"] == ["content"]
    upload_schema = content["multipart/form-data"]["schema"]
    assert upload_schema["properties"]["file"]["format"] == "binary"
    assert "$defs" not in str(content)
    assert {"413", "415"} <= set(operation["responses"])
