"""OCR stage: text shown on screen, in order of appearance. It never fails the job.

Videos: frames looked at every SVP_OCR_INTERVAL seconds, and only those showing new text are
read (svp.media.screen: the one path, also used by tests and benchmarks); frames stream
through, none are held. Text that stays in place for most of the video (a watermark, a handle,
a frame counter) is listed apart as `persistent`: it is shown on the page, not summarized.
Image posts: every image is read, in post order (`seconds` is null, `image` is the image's
index).
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
    from svp.media.screen import ScreenText

    media = ctx.output_of("downloader")
    settings = ctx.runtime.settings
    artifacts = media.get("artifacts") or {}
    screen = ScreenText(settings)
    warning = ""
    try:
        videos = artifacts.get("videos") or ([artifacts["media"]] if artifacts.get("media") else [])
        if media.get("has_video"):
            offset = 0.0
            for index, uri in enumerate(videos):
                local = ctx.scratch / f"media-{index}"
                ctx.runtime.blobs.download(uri, local)
                screen.read_video(local, offset)
                offset += _duration(local)
                local.unlink(missing_ok=True)
        images = artifacts.get("images") or []
        if images:
            screen.read_images(_images(ctx, images))
    except Exception as exc:  # noqa: BLE001 - graceful degradation: no screen text
        warning = f"on-screen text could not be read: {type(exc).__name__}: {exc}"
        log.warning(warning)
    lines = screen.lines()
    payload = {
        "lines": [_line(line) for line in lines],
        "persistent": screen.persistent(),
        "engine": settings.ocr_engine,
        "frames": screen.frames,
        "frames_sent": screen.frames_sent,
        "images": screen.images,
        "warning": warning,
    }
    uri = ctx.save("ocr.json", json.dumps(payload, ensure_ascii=False).encode(), "application/json")
    return {
        "artifacts": {"ocr": uri},
        "engine": settings.ocr_engine,
        "lines": len(lines),
        "persistent": len(payload["persistent"]),
        "frames": screen.frames,  # looked at
        "frames_sent": screen.frames_sent,  # read by the engine (billed, for Vision)
        "images": screen.images,
        "warning": warning,
    }


def _line(line: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"text": line.text, "seconds": line.seconds}
    if line.image is not None:
        item["image"] = line.image
    return item


def _images(ctx: StageContext, uris: list[str]) -> Iterator[tuple[int, Any]]:
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
        yield index, image


def _duration(video: Path) -> float:
    from svp.media.ffmpeg import open_container

    try:
        with open_container(video) as container:
            return (container.duration or 0) / 1_000_000
    except Exception:  # noqa: BLE001 - no duration known: the next video's offset is 0
        return 0.0
