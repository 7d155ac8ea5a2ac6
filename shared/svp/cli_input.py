"""What `svp process` was given, checked before any job is made: a link or a local file
(that exists, is a file, and is under SVP_MAX_MB), and a `--schema` file (that exists, is
JSON, and names only property types Notion has)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svp.summary import fillers

# A scheme (http://, https://, ftp://, file://...): the downloader judges it, not the disk.
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_MEDIA_SUFFIXES = frozenset(
    [
        ".mp4",
        ".mov",
        ".m4v",
        ".webm",
        ".mkv",
        ".avi",
        ".m4a",
        ".mp3",
        ".wav",
        ".ogg",
        ".jpg",
        ".jpeg",
        ".png",
        ".webp",
    ]
)


class InputError(Exception):
    """What the person typed cannot be used; `code` is the exit code (README's table)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class Source:
    url: str = ""
    path: Path | None = None
    size: int = 0


def source_of(given: str, max_mb: int) -> Source:
    """A link (left to the downloader), or a local file checked here. A path that does not
    exist is refused when it reads as a path: a media suffix, or a leading /, ./, ../ or ~."""
    if _SCHEME.match(given):
        return Source(url=given)
    path = Path(given).expanduser()
    if path.is_dir():
        raise InputError(f"{given} is a folder, not a video or image file")
    if path.is_file():
        size = path.stat().st_size  # st_size: a sparse file is judged without reading it
        if size > max_mb * 1024 * 1024:
            raise InputError(
                f"{given} is {size / 1024 / 1024:,.0f} MB, over the {max_mb} MB limit"
                " (SVP_MAX_MB): nothing was copied",
                code=1,
            )
        if size == 0:
            raise InputError(f"{given} is empty (0 bytes)", code=1)
        return Source(path=path.resolve(), size=size)
    if path.exists():
        raise InputError(f"{given} is not a regular file")
    if given.startswith(("/", "./", "../", "~")) or path.suffix.lower() in _MEDIA_SUFFIXES:
        raise InputError(f"no such file: {given}")
    return Source(url=given)


def schema_file(given: str) -> dict[str, Any]:
    """The `--schema` file's JSON object, each property's type known to Notion."""
    path = Path(given).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--schema: no such file: {given}") from None
    except IsADirectoryError:
        raise InputError(f"--schema: {given} is a folder, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--schema: cannot read {given}: {exc}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"--schema: {given} is not valid JSON (line {exc.lineno}, column {exc.colno}:"
            f" {exc.msg})"
        ) from None
    if not isinstance(schema, dict) or not schema:
        raise InputError(
            f'--schema: {given} must hold a JSON object: {{"property name": {{"type": ...}}}}'
        )
    unknown = {
        name: prop.get("type")
        for name, prop in schema.items()
        if isinstance(prop, dict) and prop.get("type") not in fillers.ALL
    }
    if unknown:
        named = ", ".join(f"{name!r} has type {kind!r}" for name, kind in unknown.items())
        raise InputError(
            f"--schema: {named}, which Notion does not have; "
            f"the summary fills {', '.join(fillers.LOCAL)}"
        )
    return schema


def not_filled(schema: dict[str, Any]) -> list[str]:
    """Properties of a type the summary leaves empty (a note, not an error)."""
    return [
        f"{name!r} ({prop['type']})"
        for name, prop in schema.items()
        if isinstance(prop, dict) and prop.get("type") not in fillers.LOCAL
    ]
