"""Downloader stage: the post's media, images and metadata become artifacts.

Output (read by the transcriber, the OCR stage and svp.summary.content):
  artifacts.media   the video (absent for an image-only post); artifacts.videos when a carousel
                    holds more than one; artifacts.images the images, in post order;
  artifacts.info    info.json: title, description (the caption, with its hashtags), uploader,
                    upload_date, duration, thumbnail, webpage_url, subtitles {lang: text}, ...;
  artifacts.thumbnail  the platform's thumbnail of a video, as served (the OCR stage checks
                    and re-encodes it for the page); thumbnail_url its address;
  kind              "video" | "images" | "mixed"; has_video, has_audio, duration, images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svp.errors import PermanentError
from svp.media.probe import MediaInfo, probe, readable_seconds
from svp.runtime.jobs import JOBS
from svp.runtime.runner import StageContext

if TYPE_CHECKING:
    from svp.config import Settings
    from svp.media.download import Fetched


def run(ctx: StageContext) -> dict[str, Any]:
    link = ctx.job["link"]
    settings = ctx.runtime.settings
    given = link.get("path") or link.get("file_uri")
    fetched = _given_file(ctx) if given else _downloaded(ctx)
    probed: list[tuple[Path, MediaInfo]] = [
        (path, probe(path, settings)) for path in fetched.videos
    ]
    for _, info in probed:
        if info.duration > settings.max_seconds:
            raise PermanentError(
                f"the video lasts {info.duration:.0f} s, over the {settings.max_seconds} s limit"
                " (SVP_MAX_SECONDS)"
            )
    damaged = [note for path, info in probed if (note := cut_short(path, info, settings))]
    first = probed[0][1] if probed else MediaInfo(0.0, False, False)
    duration = round(sum(info.duration for _, info in probed), 3)
    metadata = {"description": "", "subtitles": {}, **fetched.metadata}
    metadata.update(
        duration=duration or metadata.get("duration") or 0,
        has_video=first.has_video,
        has_audio=first.has_audio,
        kind=fetched.kind,
        images=len(fetched.images),
    )
    if damaged:
        metadata["damaged"] = "; ".join(damaged)
    artifacts = _saved(ctx, [path for path, _ in probed], fetched.images, metadata)
    if fetched.thumbnail is not None:
        artifacts["thumbnail"] = ctx.save(f"thumbnail{fetched.thumbnail.suffix}", fetched.thumbnail)
    same_video_as = settle_identity(ctx, metadata) if link.get("url") else None
    return {
        "same_video_as": same_video_as,
        "artifacts": artifacts,
        "kind": fetched.kind,
        "duration": duration,
        "has_video": first.has_video,
        "has_audio": first.has_audio,
        "images": len(fetched.images),
        "videos": len(probed),
        "title": metadata.get("title", ""),
        "thumbnail_url": _web_address(metadata.get("thumbnail")),
        "damaged": metadata.get("damaged", ""),
    }


# A file whose packets end this much before its announced duration was cut short (a small
# gap is the last frame's length, or an audio track a little shorter than the video).
CUT_SHORT_SECONDS = 1.0
CUT_SHORT_SHARE = 0.05


def cut_short(path: Path, info: MediaInfo, settings: Settings) -> str:
    """ "the file ends at 0:05 of 0:11: ..." when its media stops early, else ""."""
    if info.duration <= 0:
        return ""
    readable = readable_seconds(path, settings)
    gap = info.duration - (readable or 0.0)
    if readable is None or gap < max(CUT_SHORT_SECONDS, info.duration * CUT_SHORT_SHARE):
        return ""
    return (
        f"the file ends at {_clock(readable)} of {_clock(info.duration)}: the rest of the video"
        " is missing (a download or copy that stopped early), so the page holds only what"
        " comes before"
    )


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _web_address(value: Any) -> str:
    """An http(s) address Notion can show as an external cover (at most 2000 characters)."""
    text = str(value or "")
    return text if text.startswith(("https://", "http://")) and len(text) <= 2000 else ""


def _given_file(ctx: StageContext) -> Fetched:
    """`svp process FILE`: the job names the file (`path`, read here and stored once, as
    media.mp4), or an artifact stored when the job was made (`file_uri`)."""
    from svp.media.download import Fetched

    link = ctx.job["link"]
    local = ctx.scratch / Path(link["file"]).name
    if link.get("path"):
        _copy_given(Path(link["path"]), local, ctx.runtime.settings.max_download_mb)
    else:
        ctx.runtime.blobs.download(link["file_uri"], local)
    metadata: dict[str, Any] = {"title": Path(link["file"]).stem}
    if local.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
        return Fetched(images=[local], metadata=metadata)
    return Fetched(videos=[local], metadata=metadata)


def _copy_given(path: Path, local: Path, max_mb: int) -> None:
    """The person's file into the scratch folder (ffmpeg reads only a plain file there),
    checked again: it may have changed or gone since the job was made."""
    import shutil

    try:
        size = path.stat().st_size
    except OSError:
        raise PermanentError(f"the file {path} is no longer there") from None
    if size > max_mb * 1024 * 1024:
        raise PermanentError(
            f"the file is {size / 1024 / 1024:,.0f} MB, over the {max_mb} MB limit (SVP_MAX_MB)"
        )
    shutil.copyfile(path, local)


def _downloaded(ctx: StageContext) -> Fetched:
    from svp.media.download import download

    return download(ctx.job["link"].get("url", ""), ctx.scratch / "download", ctx.runtime.settings)


def _saved(
    ctx: StageContext, videos: list[Path], images: list[Path], metadata: dict[str, Any]
) -> dict[str, Any]:
    """The post's files and info.json as artifacts (see the module docstring)."""
    artifacts: dict[str, Any] = {}
    video_uris = [
        ctx.save(f"media{'' if i == 0 else f'-{i}'}{path.suffix or '.bin'}", path)
        for i, path in enumerate(videos)
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
    return artifacts


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
