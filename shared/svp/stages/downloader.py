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
import time
from pathlib import Path
from typing import Any

from svp.errors import PermanentError
from svp.media.probe import MediaInfo, probe
from svp.runtime.jobs import JOBS
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
    same_video_as = settle_identity(ctx, metadata) if link.get("url") else None
    return {
        "same_video_as": same_video_as,
        "artifacts": artifacts,
        "kind": kind,
        "duration": duration,
        "has_video": first.has_video,
        "has_audio": first.has_audio,
        "images": len(images),
        "videos": len(video_uris),
        "title": metadata.get("title", ""),
    }


def settle_identity(ctx: StageContext, metadata: dict[str, Any]) -> str | None:
    """The download resolved which video this is (a short link, another URL form): if another
    job of the same video owns it, this job waits for or points at that job's page. Returns
    that job's id, else None. The artifacts are kept: the job takes over if that job fails."""
    from svp.media.identity import video_key_from_info
    from svp.runtime import videos
    from svp.runtime.admission import settle

    video = video_key_from_info(metadata, ctx.job["link"]["url"])
    known = ctx.job.get("video")
    if video == known:
        return None
    if known:
        videos.release(ctx.runtime.state, ctx.job, known, now=time.time())
    verdict = settle(ctx.runtime, {**ctx.job, "video": video}, video)
    if verdict in ("wait", "point"):
        current = ctx.runtime.state.get(JOBS, ctx.job_id) or {}
        return current.get("waiting_for") or (current.get("result") or {}).get("duplicate_of")
    return None
