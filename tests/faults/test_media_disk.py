"""Media storage that cannot take a file: a full or read-only disk (a small tmpfs, as root) and a
directory the server may not write (a real `parley serve` without root's pass through
permissions). Each upload is a 503 with Retry-After, logged once without a traceback, with
nothing half-written on disk and nothing changed in the database; reads go on working."""

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Account, assert_unavailable, make_client, sign_up
from tests.e2e.chat_helpers import API, PNG, collect, new_session, upload
from tests.support.disks import fill, mount, small_tmpfs
from tests.support.parley_server import running_parley

# Bigger than anything a full 1 MiB disk has left, small enough to send at once.
BIG_PNG = PNG + b"\x00" * (256 * 1024)
TMPFS_SIZE = "1m"
UNPRIVILEGED = "nobody"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of the test's own, unmounted afterwards."""
    with small_tmpfs(tmp_path / "media", TMPFS_SIZE) as disk:
        yield disk


def tree(root: Path) -> set[str]:
    """Every file and directory under root, drafts and empty directories included."""
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def log_events(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def assert_logged_once_without_traceback(events: list[dict[str, Any]]) -> None:
    """One operational warning per refused upload; no error, no traceback, no 500."""
    faults = [e for e in events if e["event"] == "media_storage_unavailable"]
    assert len(faults) == 1, events
    assert faults[0]["level"] == "warning"
    assert not [e for e in events if "exception" in e or e["level"] in {"error", "critical"}]
    assert all(e.get("status") != 500 for e in events)


class Chat:
    """One account's chat session with one stored file, as the tests look at it."""

    def __init__(self, http: httpx.AsyncClient, owner: Account, session_id: str) -> None:
        self.http, self.owner, self.id = http, owner, session_id

    async def snapshot(self) -> tuple[int, list[dict[str, Any]]]:
        response = await self.http.get(f"{API}/sessions/{self.id}", headers=self.owner.headers)
        messages = await collect(self.http, self.owner, f"/sessions/{self.id}/messages")
        return response.json()["data"]["message_count"], messages

    async def download(self, media_id: str) -> httpx.Response:
        return await self.http.get(f"{API}/media/{media_id}", headers=self.owner.headers)


async def open_chat(http: httpx.AsyncClient) -> tuple[Chat, str]:
    """A session holding one uploaded file; return it and the file's media id."""
    owner = await sign_up(http)
    chat = Chat(http, owner, (await new_session(http, owner))["id"])
    first = await upload(http, owner, chat.id, PNG, filename="kept.png")
    assert first.status_code == 201, first.text
    return chat, first.json()["data"]["media"]["id"]


async def disk_app(app_factory: Callable[..., Any], disk: Path) -> FastAPI:
    application: FastAPI = await app_factory(media_dir=disk, log_format="json", log_level="INFO")
    return application


async def test_a_full_media_disk_is_503_and_changes_nothing(
    app_factory: Callable[..., Any], small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    application = await disk_app(app_factory, small_disk)
    async with make_client(application) as http:
        chat, kept = await open_chat(http)
        filler = fill(small_disk)
        on_disk, before = tree(small_disk), await chat.snapshot()
        capsys.readouterr()

        response = await upload(http, chat.owner, chat.id, BIG_PNG, filename="new.png")

        assert_unavailable(response)
        assert_logged_once_without_traceback(log_events(capsys.readouterr().out))
        assert tree(small_disk) == on_disk  # no draft, no new directory
        assert await chat.snapshot() == before
        # Reads of what is stored, and writes that need no disk, go on working.
        download = await chat.download(kept)
        assert download.status_code == 200 and download.content == PNG
        text = await http.post(
            f"{API}/sessions/{chat.id}/messages", json={"content": "hi"}, headers=chat.owner.headers
        )
        assert text.status_code == 201, text.text

        filler.unlink()
        again = await upload(http, chat.owner, chat.id, BIG_PNG, filename="new.png")
        assert again.status_code == 201, again.text
        assert (await chat.download(again.json()["data"]["media"]["id"])).content == BIG_PNG


async def test_a_read_only_media_disk_is_503_and_changes_nothing(
    app_factory: Callable[..., Any], small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    application = await disk_app(app_factory, small_disk)
    async with make_client(application) as http:
        chat, kept = await open_chat(http)
        mount("-o", "remount,ro", str(small_disk))
        on_disk, before = tree(small_disk), await chat.snapshot()
        capsys.readouterr()

        response = await upload(http, chat.owner, chat.id, PNG, filename="new.png")

        assert_unavailable(response)
        assert_logged_once_without_traceback(log_events(capsys.readouterr().out))
        assert tree(small_disk) == on_disk
        assert await chat.snapshot() == before
        assert (await chat.download(kept)).content == PNG

        mount("-o", "remount,rw", str(small_disk))
        again = await upload(http, chat.owner, chat.id, PNG, filename="new.png")
        assert again.status_code == 201, again.text


def without_permission_bypass() -> list[str]:
    """The command prefix that makes a server obey file permissions, even started by root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root bypasses file permissions, and setpriv is not here to stop it")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def test_a_media_directory_the_server_may_not_write_is_503_and_unreadable_files_too(
    tmp_path: Path,
) -> None:
    prefix = without_permission_bypass()
    media = tmp_path / "media"
    with (
        running_parley(tmp_path, prefix=prefix, env={"MEDIA_DIR": str(media)}) as server,
        httpx.Client(base_url=server.base, timeout=30) as http,
    ):
        owner = _sign_up(http)
        chat_id = http.post(f"{API}/sessions", json={}, headers=owner).json()["data"]["id"]
        sent = http.post(f"{API}/sessions/{chat_id}/messages", files={"file": PNG}, headers=owner)
        assert sent.status_code == 201, sent.text
        kept = sent.json()["data"]["media"]["id"]
        for directory in [media, *media.iterdir()]:
            directory.chmod(0o555)
        on_disk, log_from = tree(media), len(server.log.splitlines())

        response = http.post(
            f"{API}/sessions/{chat_id}/messages", files={"file": PNG}, headers=owner
        )

        assert_unavailable(response)
        assert tree(media) == on_disk
        chat = http.get(f"{API}/sessions/{chat_id}", headers=owner).json()["data"]
        assert chat["message_count"] == 1
        assert http.get(f"{API}/media/{kept}", headers=owner).content == PNG

        # A stored file the server cannot read may be readable again once an operator acts.
        (stored,) = [path for path in media.rglob("*") if path.is_file()]
        stored.chmod(0o000)
        assert_unavailable(http.get(f"{API}/media/{kept}", headers=owner))

        events = log_events("\n".join(server.log.splitlines()[log_from:]))
        assert len([e for e in events if e["event"] == "media_storage_unavailable"]) == 2
        assert not [e for e in events if "exception" in e or e.get("status") == 500]


def _sign_up(http: httpx.Client) -> dict[str, str]:
    credentials = {"email": "eacces@example.com", "password": "correct horse battery staple"}
    assert http.post(f"{API}/auth/register", json=credentials).status_code == 201
    tokens = http.post(f"{API}/auth/login", json=credentials).json()["data"]
    return {"Authorization": f"Bearer {tokens['access_token']}"}
