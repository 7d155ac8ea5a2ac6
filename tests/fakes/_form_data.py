"""A small multipart/form-data parser (RFC 7578) for the fakes' upload routes.

It splits on the exact delimiter ``CRLF--boundary`` and never looks inside a part's
content, so binary files with CRLFs or boundary-like bytes come back byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message


class FormDataError(ValueError):
    """The body is not well-formed multipart/form-data; the message says why."""


@dataclass(frozen=True)
class FormPart:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None  # the part's own Content-Type header, if any

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def boundary_of(content_type: str | None) -> str:
    """The ``boundary`` parameter of a ``multipart/form-data`` Content-Type header."""
    header = _header_message("Content-Type", content_type or "")
    if header.get_content_type() != "multipart/form-data":
        raise FormDataError(f"Content-Type should be multipart/form-data, was {content_type!r}")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise FormDataError("multipart/form-data Content-Type has no boundary parameter")
    return boundary


def parse_form_data(content_type: str | None, body: bytes) -> dict[str, FormPart]:
    """The parts of a multipart/form-data body by field name (the last one wins)."""
    delimiter = b"\r\n--" + boundary_of(content_type).encode("latin-1")
    # The first delimiter may open the body without a CRLF before it (no preamble).
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 3:
        raise FormDataError("multipart body has no part between its boundaries")
    parts: dict[str, FormPart] = {}
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the close delimiter: the epilogue follows
            return parts
        part = _part(chunk)
        parts[part.name] = part
    raise FormDataError("multipart body ends without its closing boundary")


def _part(chunk: bytes) -> FormPart:
    # After the delimiter: optional transport padding, CRLF, headers, CRLF CRLF, content.
    line_end = chunk.find(b"\r\n")
    head_end = chunk.find(b"\r\n\r\n", line_end)
    if line_end < 0 or head_end < 0 or chunk[:line_end].strip(b" \t"):
        raise FormDataError("multipart part has no header block")
    headers = _header_message_from(chunk[line_end + 2 : head_end + 2])
    disposition = headers.get("Content-Disposition")
    name = headers.get_param("name", header="content-disposition")
    if disposition is None or not isinstance(name, str):
        raise FormDataError("multipart part has no Content-Disposition name")
    content_type = headers.get("Content-Type")
    return FormPart(
        name=name,
        data=chunk[head_end + 4 :],
        filename=headers.get_filename(),
        content_type=str(content_type).strip() if content_type is not None else None,
    )


def _header_message(name: str, value: str) -> Message:
    message = Message()
    message[name] = value
    return message


def _header_message_from(block: bytes) -> Message:
    message = Message()
    for line in block.decode("utf-8", errors="replace").split("\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise FormDataError(f"multipart part header without a colon: {line!r}")
        message[name.strip()] = value.strip()
    return message
