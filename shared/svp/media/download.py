"""Fetch a post's media and metadata with yt-dlp, extraction and download in one session."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from svp.errors import PermanentError, TransientError

log = logging.getLogger("svp.download")

# Metadata worth keeping for the summary and the page; the rest of yt-dlp's info is noise.
KEPT_FIELDS = (
    "id",
    "title",
    "description",
    "uploader",
    "uploader_id",
    "channel",
    "upload_date",
    "duration",
    "thumbnail",
    "webpage_url",
    "extractor_key",
    "tags",
    "language",
)


@dataclass
class Download:
    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)


def check_url(url: str) -> str:
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise PermanentError(f"not a web link: {url!r} (expected an http(s) URL)")
    return url


def ydl_options(dest: Path, max_mb: int, cookies_file: str = "") -> dict[str, Any]:
    options: dict[str, Any] = {
        # One progressive file with audio, under the size cap: no merge step, no ffmpeg muxing.
        "format": f"b[ext=mp4][filesize<?{max_mb}M]/b[filesize<?{max_mb}M]/b",
        "outtmpl": str(dest / "media.%(ext)s"),
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "socket_timeout": 30,
        "retries": 3,
        "fragment_retries": 3,
        "writesubtitles": True,
        "subtitlesformat": "vtt/best",
        "logger": log,
    }
    if cookies_file:
        options["cookiefile"] = cookies_file
    return options


def classify(message: str) -> Exception:
    """yt-dlp reports every failure as DownloadError text: sort it into permanent or transient."""
    text = re.sub(r"^ERROR:\s*", "", message.strip())
    lowered = text.lower()
    if "unsupported url" in lowered:
        return PermanentError(f"this site or link is not supported: {text}")
    if re.search(r"http error (404|410)", lowered) or "not found" in lowered:
        return PermanentError(f"the video was not found (removed or a wrong link): {text}")
    if "private" in lowered or "removed" in lowered or "unavailable" in lowered:
        return PermanentError(f"the video is private, removed or unavailable: {text}")
    if "login" in lowered or "cookies" in lowered or "sign in" in lowered:
        return PermanentError(
            f"the site requires a login: set SVP_COOKIES_FILE to a cookies file ({text})"
        )
    if (
        re.search(r"http error (429|5\d\d)", lowered)
        or "timed out" in lowered
        or "connection" in lowered
        or "temporarily" in lowered
    ):
        return TransientError(f"the site is rate-limiting or unreachable, will retry: {text}")
    if re.search(r"http error 4\d\d", lowered):
        return PermanentError(f"the site refused the download: {text}")
    return TransientError(text)


def download(url: str, dest: Path, *, max_mb: int, cookies_file: str = "") -> Download:
    import yt_dlp

    url = check_url(url)
    try:
        with yt_dlp.YoutubeDL(ydl_options(dest, max_mb, cookies_file)) as ydl:
            info = ydl.extract_info(url, download=True)
    except yt_dlp.utils.DownloadError as exc:
        raise classify(str(exc)) from exc
    if info is None:
        raise PermanentError("nothing to download at this link")
    if info.get("_type") == "playlist":
        entries = [e for e in info.get("entries") or [] if e]
        if not entries:
            raise PermanentError("the post has no media")
        info = entries[0]
    downloads = info.get("requested_downloads") or []
    path = Path(downloads[0]["filepath"]) if downloads else None
    if path is None or not path.is_file():
        raise PermanentError(f"the video is larger than the {max_mb} MB limit (SVP_MAX_MB)")
    metadata = {key: info[key] for key in KEPT_FIELDS if info.get(key) is not None}
    metadata["subtitles"] = _subtitle_texts(info)
    return Download(path, metadata)


def _subtitle_texts(info: dict[str, Any]) -> dict[str, str]:
    texts = {}
    for lang, sub in (info.get("requested_subtitles") or {}).items():
        path = sub.get("filepath")
        if path and Path(path).is_file():
            texts[lang] = Path(path).read_text(errors="replace")
    return texts
