"""What a file is, decided from its bytes; what its name becomes once stored."""

import pytest

from parley.media.detect import detect
from parley.media.router import content_disposition
from parley.media.service import sanitize_filename
from parley.models.chat import MessageKind
from tests.e2e.chat_helpers import AAC, ELF, GIF, HTML, JPEG, M4A, MP3, MP4, OGG, PDF, PNG, WEBP


@pytest.mark.parametrize(
    ("head", "content_type", "kind"),
    [
        (JPEG, "image/jpeg", MessageKind.IMAGE),
        (PNG, "image/png", MessageKind.IMAGE),
        (WEBP, "image/webp", MessageKind.IMAGE),
        (GIF, "image/gif", MessageKind.IMAGE),
        (OGG, "audio/ogg", MessageKind.AUDIO),
        (MP3, "audio/mpeg", MessageKind.AUDIO),
        (M4A, "audio/mp4", MessageKind.AUDIO),
        (AAC, "audio/aac", MessageKind.AUDIO),
        (MP4, "video/mp4", MessageKind.VIDEO),
        (PDF, "application/pdf", MessageKind.DOCUMENT),
    ],
)
def test_each_accepted_format_is_detected(
    head: bytes, content_type: str, kind: MessageKind
) -> None:
    found = detect(head)
    assert found is not None
    assert found.content_type == content_type
    assert found.kind is kind


@pytest.mark.parametrize(
    "head",
    [
        HTML,
        ELF,
        b"MZ\x90\x00" + b"\x00" * 60,  # a Windows executable
        b"PK\x03\x04" + b"\x00" * 60,  # a zip archive
        b"BM" + b"\x00" * 60,  # a bitmap: an image, but not one we accept
        b"\x1aE\xdf\xa3" + b"\x00" * 60,  # Matroska/WebM video
        b"",
        b"x",
    ],
)
def test_anything_else_is_not_detected(head: bytes) -> None:
    assert detect(head) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photo.png", "photo.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\fakepath\\photo.png", "photo.png"),
        ("a\x00b\nc\rd\x7fe.png", "abcde.png"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("  spaced.png  ", "spaced.png"),
        ("", "fallback.bin"),
        (None, "fallback.bin"),
        ("/", "fallback.bin"),
        ("..", "fallback.bin"),
        ("x" * 400, "x" * 255),
        ("e\u0301.png", "é.png"),
    ],
)
def test_filenames_lose_paths_and_control_characters(raw: str | None, expected: str) -> None:
    assert sanitize_filename(raw, fallback="fallback.bin") == expected


def test_content_disposition_keeps_the_exact_name_and_an_ascii_fallback() -> None:
    header = content_disposition('ünïcode "quoted"\\name;.pdf')
    assert header.startswith("attachment; ")
    assert 'filename="_n_code _quoted__name;.pdf"' in header
    assert "filename*=UTF-8''%C3%BCn%C3%AFcode%20%22quoted%22%5Cname%3B.pdf" in header
    header.encode("latin-1")  # a valid header value


def test_content_disposition_of_a_name_with_no_ascii_letters_still_has_a_fallback() -> None:
    assert 'filename="___.png"' in content_disposition("日本語.png")
