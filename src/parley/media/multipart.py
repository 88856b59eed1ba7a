"""A streaming multipart/form-data reader: the file part flows to storage chunk by chunk,
so an upload is never held in memory or spooled twice."""

import re
from collections.abc import AsyncIterator, Collection, Mapping
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from parley.core.errors import BadRequest, FieldError, ValidationFailed

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_PARTS = 16
MAX_FIELD_BYTES = 64 * 1024
_SANE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class MalformedMultipart(BadRequest):
    message = "Malformed multipart body"


class MultipartUpload:
    """One file part named `file_field` plus small text fields, read from a body stream."""

    def __init__(
        self,
        stream: AsyncIterator[bytes],
        content_type: str,
        *,
        file_field: str = "file",
        text_fields: Collection[str] = (),
    ) -> None:
        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if not boundary:
            raise MalformedMultipart("Multipart body without a boundary")
        self._boundary = boundary
        self._stream = stream
        self._file_field = file_field
        self._text_fields = frozenset(text_fields)
        self._filename: str | None = None
        self._fields: dict[str, str] = {}
        self._saw_file = False
        self._ended = False
        self._parts = 0
        self._headers: dict[bytes, bytes] = {}
        self._header_name = b""
        self._header_value = b""
        self._name = ""
        self._in_file = False
        self._value = bytearray()
        self._file_data: list[bytes] = []

    @property
    def filename(self) -> str | None:
        return self._filename

    @property
    def fields(self) -> Mapping[str, str]:
        return self._fields

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """Yield the file's bytes while reading the whole body; fields are collected on the way."""
        try:
            parser = MultipartParser(self._boundary, self._callbacks())
            async for chunk in self._stream:
                parser.write(chunk)
                for data in self._file_data:
                    yield data
                self._file_data.clear()
            parser.finalize()
        except FormParserError as exc:
            raise MalformedMultipart from exc
        if not self._ended:
            raise MalformedMultipart("Multipart body ends before its closing boundary")
        if not self._saw_file:
            raise ValidationFailed(
                details=[FieldError(f"body.{self._file_field}", "Field required")]
            )

    def _callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise MalformedMultipart("Too many parts in the multipart body")
        self._headers, self._value, self._in_file = {}, bytearray(), False

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name, self._header_value = b"", b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        name = _decode(options.get(b"name"), "body")
        self._name = name
        if name == self._file_field:
            if self._saw_file:
                raise _invalid(name, "must be a single file")
            self._saw_file, self._in_file = True, True
            raw_filename = options.get(b"filename")
            if raw_filename is not None:
                self._filename = raw_filename.decode("utf-8", errors="replace")
        elif name not in self._text_fields:
            raise _invalid(name, "Extra inputs are not permitted")
        elif b"filename" in options:
            raise _invalid(name, "must be text, not a file")
        elif name in self._fields:
            raise _invalid(name, "was sent twice")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._file_data.append(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise _invalid(self._name, "is too long")

    def _on_part_end(self) -> None:
        if not self._in_file:
            self._fields[self._name] = _decode(bytes(self._value), f"body.{self._name}")

    def _on_end(self) -> None:
        self._ended = True


def _decode(raw: bytes | None, field: str) -> str:
    if raw is None:
        raise MalformedMultipart("A multipart part has no name")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(details=[FieldError(field, "must be UTF-8 text")]) from None


def _invalid(name: str, message: str) -> ValidationFailed:
    # Name the field only when it is a plain token: error bodies never echo arbitrary input.
    field = f"body.{name}" if _SANE_NAME.fullmatch(name) else "body"
    return ValidationFailed(details=[FieldError(field, message)])
