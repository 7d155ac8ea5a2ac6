"""Downloader stage: the post's media and metadata become artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from svp.errors import PermanentError
from svp.media.probe import probe
from svp.runtime.runner import StageContext


def run(ctx: StageContext) -> dict[str, Any]:
    link = ctx.job["link"]
    settings = ctx.runtime.settings
    if link.get("file_uri"):  # `svp process FILE`: the file was stored when the job was made
        media = ctx.scratch / Path(link["file"]).name
        ctx.runtime.blobs.download(link["file_uri"], media)
        metadata: dict[str, Any] = {"title": Path(link["file"]).stem}
    else:
        from svp.media.download import download

        fetched = download(
            link.get("url", ""),
            ctx.scratch,
            max_mb=settings.max_download_mb,
            cookies_file=settings.cookies_file,
        )
        media, metadata = fetched.path, fetched.metadata

    info = probe(media)
    if info.duration > settings.max_seconds:
        raise PermanentError(
            f"the video lasts {info.duration:.0f} s, over the {settings.max_seconds} s limit"
            " (SVP_MAX_SECONDS)"
        )
    metadata.update(duration=info.duration, has_video=info.has_video, has_audio=info.has_audio)
    media_uri = ctx.save(f"media{media.suffix or '.bin'}", media)
    info_uri = ctx.save(
        "info.json", json.dumps(metadata, ensure_ascii=False).encode(), "application/json"
    )
    return {
        "artifacts": {"media": media_uri, "info": info_uri},
        "duration": info.duration,
        "has_video": info.has_video,
        "has_audio": info.has_audio,
        "title": metadata.get("title", ""),
    }
