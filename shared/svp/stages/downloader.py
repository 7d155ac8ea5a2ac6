"""Downloader stage: the post's media, images and metadata become artifacts.

Output (read by the transcriber, the OCR stage and svp.summary.content):
  artifacts.media   the video (absent for an image-only post); artifacts.videos when a carousel
                    holds more than one; artifacts.images the images, in post order;
  artifacts.info    info.json: title, description (the caption, with its hashtags), uploader,
                    upload_date, duration, thumbnail, webpage_url, subtitles {lang: text}, ...;
  kind              "video" | "images" | "mixed"; has_video, has_audio, duration, images.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from svp.errors import PermanentError
from svp.media.probe import MediaInfo, probe
from svp.runtime.runner import StageContext


def run(ctx: StageContext) -> dict[str, Any]:
    link = ctx.job["link"]
    settings = ctx.runtime.settings
    if link.get("file_uri"):  # `svp process FILE`: the file was stored when the job was made
        local = ctx.scratch / Path(link["file"]).name
        ctx.runtime.blobs.download(link["file_uri"], local)
        videos, images = [local], []
        metadata: dict[str, Any] = {"title": Path(link["file"]).stem}
        if local.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
            videos, images = [], [local]
        kind = "images" if images else "video"
    else:
        from svp.media.download import download

        fetched = download(link.get("url", ""), ctx.scratch / "download", settings)
        videos, images, metadata, kind = (
            fetched.videos,
            fetched.images,
            fetched.metadata,
            fetched.kind,
        )

    probed: list[tuple[Path, MediaInfo]] = [(path, probe(path, settings)) for path in videos]
    for _, info in probed:
        if info.duration > settings.max_seconds:
            raise PermanentError(
                f"the video lasts {info.duration:.0f} s, over the {settings.max_seconds} s limit"
                " (SVP_MAX_SECONDS)"
            )
    first = probed[0][1] if probed else MediaInfo(0.0, False, False)
    duration = round(sum(info.duration for _, info in probed), 3)
    metadata.setdefault("description", "")
    metadata.setdefault("subtitles", {})
    metadata.update(
        duration=duration or metadata.get("duration") or 0,
        has_video=first.has_video,
        has_audio=first.has_audio,
        kind=kind,
        images=len(images),
    )

    artifacts: dict[str, Any] = {}
    video_uris = [
        ctx.save(f"media{'' if i == 0 else f'-{i}'}{path.suffix or '.bin'}", path)
        for i, (path, _) in enumerate(probed)
    ]
    if video_uris:
        artifacts["media"] = video_uris[0]
    if len(video_uris) > 1:
        artifacts["videos"] = video_uris
    if images:
        artifacts["images"] = [
            ctx.save(f"image-{i:02d}{path.suffix.lower() or '.jpg'}", path)
            for i, path in enumerate(images)
        ]
    artifacts["info"] = ctx.save(
        "info.json", json.dumps(metadata, ensure_ascii=False).encode(), "application/json"
    )
    return {
        "artifacts": artifacts,
        "kind": kind,
        "duration": duration,
        "has_video": first.has_video,
        "has_audio": first.has_audio,
        "images": len(images),
        "videos": len(video_uris),
        "title": metadata.get("title", ""),
    }
