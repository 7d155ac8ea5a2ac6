"""OCR stage: text shown on screen, in order of appearance. It never fails the job.

Videos: frames looked at every SVP_OCR_INTERVAL seconds, and only those showing new text are
read (svp.media.screen: the one path, also used by tests and benchmarks); frames stream
through, none are held. Text that stays in place for most of the video (a watermark, a handle,
a frame counter) is listed apart as `persistent`: it is shown on the page, not summarized.
Image posts: every image is read, in post order (`seconds` is null, `image` is the image's
index). What the engine could not read (a Vision batch or image still failing after its
retries, or the whole service refusing) is named in `warning`; the lines read stay.

The stage that looks at the frames also gives the page its pictures (`pictures`, each
{uri, source, caption}; the first is the cover): the platform's thumbnail, else the sharpest
frame without overlay text (svp.media.picture), then a photo post's images (at most
MAX_PAGE_IMAGES), each decoded and encoded again as a JPEG.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from svp.runtime.runner import StageContext

log = logging.getLogger("svp.ocr")
MAX_PAGE_IMAGES = 20  # a photo post's images on its page (Instagram carousels hold 20)


def run(ctx: StageContext) -> dict[str, Any]:
    from svp.media.ocr import vision_run
    from svp.media.picture import FramePicker
    from svp.media.screen import ScreenText

    media = ctx.output_of("downloader")
    settings = ctx.runtime.settings
    artifacts = media.get("artifacts") or {}
    pictures = _thumbnail(ctx, artifacts.get("thumbnail"))
    picker = FramePicker() if not pictures and media.get("has_video") else None
    screen = ScreenText(settings, picker=picker)
    warning = ""
    with vision_run() as problems:  # Vision's per-batch and per-image failures, named
        try:
            videos = artifacts.get("videos") or (
                [artifacts["media"]] if artifacts.get("media") else []
            )
            if media.get("has_video"):
                offset = 0.0
                for index, uri in enumerate(videos):
                    local = ctx.scratch / f"media-{index}"
                    ctx.runtime.blobs.download(uri, local)
                    screen.read_video(local, offset)
                    offset += _duration(local)
                    local.unlink(missing_ok=True)
            if picker is not None and picker.chosen is not None:
                pictures += _frame(ctx, picker.chosen)
            images = artifacts.get("images") or []
            if images:
                screen.read_images(_images(ctx, images, pictures))
        except Exception as exc:  # noqa: BLE001 - graceful degradation: what was read stays
            warning = f"on-screen text could not be read: {type(exc).__name__}: {exc}"
    warning = "; ".join([*problems, warning] if warning else problems)
    if warning:
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
        "picture_checks": screen.picture_checks,  # frames read to choose the picture (billed)
        "images": screen.images,
        "pictures": pictures,  # the page's: {uri, source, caption}, the cover first
        "warning": warning,
    }


def _thumbnail(ctx: StageContext, uri: str | None) -> list[dict[str, Any]]:
    """The platform's thumbnail as the page's picture, if it is a picture."""
    from svp.media.picture import from_file

    if not uri:
        return []
    local = ctx.scratch / "thumbnail"
    ctx.runtime.blobs.download(uri, local)
    jpeg = from_file(local)
    local.unlink(missing_ok=True)
    if jpeg is None:
        log.info("the thumbnail is not a picture OpenCV can read: a frame is chosen instead")
        return []
    return [_picture(ctx, "picture-thumbnail.jpg", jpeg, "thumbnail", "Thumbnail")]


def _frame(ctx: StageContext, chosen: Any) -> list[dict[str, Any]]:
    from svp.media.picture import frame_caption

    caption = frame_caption(chosen.seconds)
    return [_picture(ctx, "picture-frame.jpg", chosen.jpeg, "frame", caption)]


def _picture(ctx: StageContext, name: str, jpeg: bytes, source: str, caption: str) -> dict:
    uri = ctx.save(name, jpeg, "image/jpeg")
    return {"uri": uri, "source": source, "caption": caption}


def _line(line: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"text": line.text, "seconds": line.seconds}
    if line.image is not None:
        item["image"] = line.image
    return item


def _images(
    ctx: StageContext, uris: list[str], pictures: list[dict[str, Any]]
) -> Iterator[tuple[int, Any]]:
    """The post's images to read, each also added to `pictures` (up to MAX_PAGE_IMAGES)."""
    import hashlib

    from svp.media.images import read_image
    from svp.media.picture import MIN_SIDE, encoded

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
        shown = sum(p["source"] == "image" for p in pictures)
        if shown < MAX_PAGE_IMAGES and min(image.shape[:2]) >= MIN_SIDE:
            caption = f"Image {index + 1} of {len(uris)}"
            name = f"picture-image-{index:02d}.jpg"
            pictures.append(_picture(ctx, name, encoded(image), "image", caption))
        yield index, image


def _duration(video: Path) -> float:
    from svp.media.ffmpeg import open_container

    try:
        with open_container(video) as container:
            return (container.duration or 0) / 1_000_000
    except Exception:  # noqa: BLE001 - no duration known: the next video's offset is 0
        return 0.0
