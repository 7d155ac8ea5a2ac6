"""OCR stage: text shown on screen, in order of appearance. It never fails the job.

Videos: frames sampled every SVP_OCR_INTERVAL seconds through keyframes, and only those whose
text changed are read (svp.media.frames); frames stream through, none are held. Image posts:
every image is read, in post order (`seconds` is null, `image` is the image's index).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from svp.runtime.runner import StageContext

log = logging.getLogger("svp.ocr")


def run(ctx: StageContext) -> dict[str, Any]:
    from svp.media.ocr import LineMerger, read_frames

    media = ctx.output_of("downloader")
    settings = ctx.runtime.settings
    artifacts = media.get("artifacts") or {}
    merger = LineMerger()
    counts = {"frames": 0, "frames_sent": 0, "images": 0}
    warning = ""
    try:
        videos = artifacts.get("videos") or ([artifacts["media"]] if artifacts.get("media") else [])
        if media.get("has_video"):
            offset = 0.0
            for index, uri in enumerate(videos):
                local = ctx.scratch / f"media-{index}"
                ctx.runtime.blobs.download(uri, local)
                frames = _changed_frames(local, settings.ocr_interval_seconds, counts, offset)
                for seconds, lines in read_frames(frames, settings):
                    merger.add(lines, seconds)
                offset += _duration(local)
                local.unlink(missing_ok=True)
        images = artifacts.get("images") or []
        if images:
            pictures = _images(ctx, images, counts)
            for image, lines in read_frames(pictures, settings):
                merger.add(lines, None, image)
    except Exception as exc:  # graceful degradation: the summary goes on without screen text
        warning = f"on-screen text could not be read: {type(exc).__name__}: {exc}"
        log.warning(warning)
    lines = merger.lines()
    payload = {
        "lines": [_line(line) for line in lines],
        "engine": settings.ocr_engine,
        "frames": counts["frames"],
        "frames_sent": counts["frames_sent"],
        "images": counts["images"],
        "warning": warning,
    }
    uri = ctx.save("ocr.json", json.dumps(payload, ensure_ascii=False).encode(), "application/json")
    return {
        "artifacts": {"ocr": uri},
        "engine": settings.ocr_engine,
        "lines": len(lines),
        "frames": counts["frames"],  # sampled
        "frames_sent": counts["frames_sent"],  # read by the engine (billed, for Vision)
        "images": counts["images"],
        "warning": warning,
    }


def _line(line: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"text": line.text, "seconds": line.seconds}
    if line.image is not None:
        item["image"] = line.image
    return item


def _changed_frames(
    video: Path, every: float, counts: dict[str, int], offset: float
) -> Iterator[tuple[float, Any]]:
    from svp.media.frames import TextChanges, sample_frames
    from svp.media.ocr import LAG_SECONDS

    changes = TextChanges()
    for sample in sample_frames(video, every, lag=LAG_SECONDS, analysis=True):
        counts["frames"] += 1
        if changes.changed(sample.small, sample.companion):
            counts["frames_sent"] += 1
            yield round(sample.seconds + offset, 2), sample.frame


def _images(
    ctx: StageContext, uris: list[str], counts: dict[str, int]
) -> Iterator[tuple[int, Any]]:
    import hashlib

    from svp.media.images import read_image

    seen: set[str] = set()
    for index, uri in enumerate(uris):
        local = ctx.scratch / f"image-{index:02d}"
        ctx.runtime.blobs.download(uri, local)
        digest = hashlib.sha1(local.read_bytes()).hexdigest()
        image = read_image(local) if digest not in seen else None
        local.unlink(missing_ok=True)
        seen.add(digest)
        if image is None:
            continue
        counts["images"] += 1
        counts["frames_sent"] += 1
        yield index, image


def _duration(video: Path) -> float:
    from svp.media.ffmpeg import open_container

    try:
        with open_container(video) as container:
            return (container.duration or 0) / 1_000_000
    except Exception:
        return 0.0
