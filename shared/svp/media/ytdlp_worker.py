"""yt-dlp in a child process: `python -m svp.media.ytdlp_worker JOB.json RESULT.json`.

The parent (svp.media.download) starts it with a clean environment whose only route out is the
egress proxy (see svp.media.urlguard): no NO_PROXY or other proxy variables can make a request
handler bypass it, and a hung extractor can be killed. Extraction and download happen in one
YoutubeDL session, as yt-dlp's maintainers advise (TikTok media URLs are bound to the session's
cookies): extract first without downloading, check the caps on the metadata, choose the
subtitles, then `process_ie_result(info, download=True)` on the same object.

The result file holds {"ok": true, "info": {...}, "entries": [...], "thumbnail": path | null}
or
{"ok": false, "error": {"kind", "message", "cause", "status", "expected"}}.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("svp.ytdlp")

KEPT_FIELDS = (
    "id",
    "title",
    "description",
    "uploader",
    "uploader_id",
    "channel",
    "upload_date",
    "timestamp",
    "duration",
    "thumbnail",
    "webpage_url",
    "extractor_key",
    "tags",
    "language",
    "like_count",
    "view_count",
)
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "gif", "heic", "avif")
THUMBNAIL_MAX_BYTES = 5 * 1024 * 1024  # a platform's largest thumbnails are well under 1 MB


class TooLarge(Exception):
    pass


def ydl_options(job: dict[str, Any]) -> dict[str, Any]:
    mb = job["max_mb"]
    dest = Path(job["dest"])
    options: dict[str, Any] = {
        # One progressive file with audio (no merge, no ffmpeg muxing), under the size cap when
        # the metadata says so, at most 1080p; the last fallback is caught by the size checks.
        "format": f"b[ext=mp4][filesize<?{mb}M][filesize_approx<?{mb}M]"
        f"/b[filesize<?{mb}M][filesize_approx<?{mb}M]/b",
        "format_sort": ["res:1080"],
        "paths": {"home": str(dest), "temp": str(dest)},
        "outtmpl": {"default": "%(autonumber)02d-%(id).40B.%(ext)s"},
        "restrictfilenames": True,
        "max_filesize": mb * 1024 * 1024,
        "noplaylist": True,  # a video link inside a playlist is the video, not the playlist
        "playlist_items": f"1:{job['max_images']}",  # a carousel: at most that many items
        "ignore_no_formats_error": True,  # image entries of a carousel have no formats
        "proxy": job["proxy"],
        "socket_timeout": job.get("socket_timeout", 20),
        "retries": 3,
        "fragment_retries": 3,
        "extractor_retries": 2,
        "retry_sleep_functions": {"http": lambda n: min(2**n, 8)},
        "writesubtitles": bool(job.get("subtitles", True)),
        "writeautomaticsub": bool(job.get("subtitles", True)),
        "subtitleslangs": [],  # chosen after extraction: the video's own language
        "subtitlesformat": "vtt/srt/best",
        "cachedir": False,  # Cloud Functions: only /tmp is writable
        "overwrites": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": log,
    }
    if job.get("cookies_file"):
        options["cookiefile"] = job["cookies_file"]
    return options


def _entries(info: dict[str, Any]) -> list[dict[str, Any]]:
    if info.get("_type") in ("playlist", "multi_video"):
        return [e for e in info.get("entries") or [] if e]
    return [info]


def _is_image(entry: dict[str, Any]) -> bool:
    if entry.get("formats"):
        return False
    return bool(entry.get("url") or entry.get("thumbnails") or entry.get("thumbnail"))


def _selected_size(entry: dict[str, Any]) -> int | None:
    chosen = entry.get("requested_formats") or [entry]
    sizes = [f.get("filesize") or f.get("filesize_approx") for f in chosen]
    return sum(sizes) if sizes and all(sizes) else None


def _language(lang: str) -> str:
    return lang.split("-")[0].lower() if lang else ""


def choose_subtitles(entry: dict[str, Any]) -> str | None:
    """The subtitle track in the video's own language, if the platform has one.

    Creator or uploaded subtitles first; then automatic captions in the original language
    (YouTube's `xx-orig`); a translation is never chosen on purpose.
    """
    manual = entry.get("subtitles") or {}
    automatic = entry.get("automatic_captions") or {}
    manual = {k: v for k, v in manual.items() if k != "live_chat" and v}
    language = _language(entry.get("language") or "")
    if language:
        for key in manual:
            if _language(key) == language or _language(key)[:2] == language[:2]:
                return key
        for key in (f"{language}-orig", language):
            if key in automatic:
                return key
        return None
    if len(manual) == 1:
        return next(iter(manual))
    originals = [k for k in automatic if k.endswith("-orig")]
    if len(originals) == 1:
        return originals[0]
    if manual:  # several and no language given (TikTok lists the original track first)
        return next(iter(manual))
    return None


def _kept(info: dict[str, Any]) -> dict[str, Any]:
    return {key: info[key] for key in KEPT_FIELDS if info.get(key) is not None}


def _image_url(entry: dict[str, Any]) -> str | None:
    url = entry.get("url")
    if url and url.split("?")[0].rsplit(".", 1)[-1].lower() in IMAGE_EXTS:
        return url
    thumbs = [t for t in entry.get("thumbnails") or [] if t.get("url")]
    if thumbs:
        best = max(thumbs, key=lambda t: (t.get("preference") or 0, (t.get("width") or 0)))
        return best["url"]
    return entry.get("thumbnail") or url


def _fetch_image(ydl: Any, url: str, out: Path, max_bytes: int) -> Path:
    from yt_dlp.networking import Request

    with ydl.urlopen(Request(url)) as response:
        kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        ext = kind.split("/")[-1] if kind.startswith("image/") else "jpg"
        path = out.with_suffix("." + ext.replace("jpeg", "jpg"))
        size = 0
        with path.open("wb") as file:
            while chunk := response.read(65536):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"an image is over {max_bytes // (1024 * 1024)} MB")
                file.write(chunk)
    return path


def describe_error(exc: BaseException) -> dict[str, Any]:
    """What the parent needs to classify a yt-dlp failure: message, cause, HTTP status."""
    from yt_dlp.networking.exceptions import HTTPError, TransportError

    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        exc_info = getattr(current, "exc_info", None)
        nxt = exc_info[1] if exc_info and exc_info[1] is not current else None
        current = nxt or getattr(current, "cause", None) or current.__cause__
        if not isinstance(current, BaseException):
            current = None
    status = next((e.status for e in seen if isinstance(e, HTTPError)), None)
    root = seen[1] if len(seen) > 1 else exc
    return {
        "kind": "error",
        "message": str(exc),
        "cause": type(root).__name__,
        "causes": [type(e).__name__ for e in seen],
        "status": status,
        "transport": any(isinstance(e, TransportError) for e in seen),
        "expected": bool(getattr(root, "expected", False)),
    }


class Refusal(Exception):
    """The post cannot be downloaded for a reason the parent words (too long, too large)."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(error.get("kind"))
        self.error = error


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Extract, check the limits on the metadata, download, and report the files: the steps of
    one yt-dlp session (TikTok media URLs are bound to its cookies)."""
    import yt_dlp

    max_bytes = job["max_mb"] * 1024 * 1024

    def cap(progress: dict[str, Any]) -> None:  # when the server sends no Content-Length
        if (progress.get("downloaded_bytes") or 0) > max_bytes:
            raise TooLarge(f"over {job['max_mb']} MB")

    options = {**ydl_options(job), "progress_hooks": [cap]}
    with yt_dlp.YoutubeDL(options) as ydl:
        try:
            info = ydl.extract_info(job["url"], download=False)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
            return {"ok": False, "error": describe_error(exc)}
        if info is None:
            return {"ok": False, "error": {"kind": "empty", "message": "nothing at this link"}}
        try:
            videos = [e for e in _entries(info) if not _is_image(e)]
            _check_limits(videos, job, max_bytes)
            language = _choose_language(ydl, videos)
            if videos:
                info = ydl.process_ie_result(info, download=True)
            entries = _entries(info)
            files = [
                _reported(ydl, i, e, Path(job["dest"]), max_bytes) for i, e in enumerate(entries)
            ]
        except Refusal as refusal:
            return {"ok": False, "error": refusal.error}
        except TooLarge:
            return {"ok": False, "error": {"kind": "too_large", "bytes": None}}
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
            error = describe_error(exc)
            if "TooLarge" in error["causes"]:
                error = {"kind": "too_large", "bytes": None}
            return {"ok": False, "error": error}
        entries_kept = [f for f in files if f is not None]
        return {
            "ok": True,
            "info": _metadata(info, entries, language),
            "entries": entries_kept,
            "thumbnail": _thumbnail(ydl, info, entries, Path(job["dest"])) if videos else None,
        }


def _check_limits(videos: list[dict], job: dict[str, Any], max_bytes: int) -> None:
    """Refuse from the metadata, before downloading anything."""
    for entry in videos:
        duration = entry.get("duration")
        if duration and duration > job["max_seconds"]:
            raise Refusal({"kind": "too_long", "seconds": duration})
        size = _selected_size(entry)
        if size and size > max_bytes:
            raise Refusal({"kind": "too_large", "bytes": size})


def _choose_language(ydl: Any, videos: list[dict]) -> str | None:
    """The subtitles to download: the videos' own language's, or none."""
    language = next((choose_subtitles(e) for e in videos if choose_subtitles(e)), None)
    ydl.params["subtitleslangs"] = [language] if language else []
    if not language:
        ydl.params["writesubtitles"] = ydl.params["writeautomaticsub"] = False
    return language


def _reported(
    ydl: Any, index: int, entry: dict[str, Any], dest: Path, max_bytes: int
) -> dict[str, Any] | None:
    """What the parent gets of one downloaded entry (None: an image without a URL)."""
    if _is_image(entry):
        url = _image_url(entry)
        if not url:
            return None
        path = _fetch_image(ydl, url, dest / f"image-{index:02d}", max_bytes)
        return {"type": "image", "path": str(path)}
    downloads = entry.get("requested_downloads") or []
    path = downloads[0].get("filepath") if downloads else None
    if not path or not Path(path).is_file():  # max_filesize skipped it: over the cap
        raise Refusal({"kind": "too_large", "bytes": None})
    subtitles = {
        lang: sub.get("filepath")
        for lang, sub in (entry.get("requested_subtitles") or {}).items()
        if sub.get("filepath") and Path(sub["filepath"]).is_file()
    }
    return {
        "type": "video",
        "path": path,
        "subtitles": subtitles,
        "duration": entry.get("duration"),
    }


def _thumbnail(ydl: Any, info: dict[str, Any], entries: list[dict], dest: Path) -> str | None:
    """The platform's thumbnail of the post, fetched in the same session (the page's picture);
    None when it has none or it cannot be fetched: a thumbnail never fails a download."""
    url = info.get("thumbnail") or next((e["thumbnail"] for e in entries if e.get("thumbnail")), "")
    if not url:
        return None
    try:
        return str(_fetch_image(ydl, url, dest / "thumbnail", THUMBNAIL_MAX_BYTES))
    except Exception as exc:  # noqa: BLE001 - any failure: the page gets a frame instead
        log.warning("the thumbnail could not be fetched: %s", exc)
        return None


def _metadata(info: dict[str, Any], entries: list[dict], language: str | None) -> dict[str, Any]:
    metadata = _kept(entries[0]) if entries else {}
    metadata.update(_kept(info))  # the post's own fields win over its first item's
    if not metadata.get("description") and entries:
        metadata["description"] = entries[0].get("description") or ""
    metadata["subtitle_language"] = language or ""
    return metadata


def main() -> None:
    job_file, result_file = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    job = json.loads(Path(job_file).read_text())
    try:
        result = run(job)
    except Exception as exc:  # noqa: BLE001 - anything unexpected: the parent decides
        result = {
            "ok": False,
            "error": {"kind": "crash", "message": f"{type(exc).__name__}: {exc}"},
        }
    Path(result_file).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
