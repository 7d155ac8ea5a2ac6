"""OCR stage: text shown on screen, in order of appearance. It never fails the job."""

from __future__ import annotations

import json
import logging
from typing import Any

from svp.runtime.runner import StageContext

log = logging.getLogger("svp.ocr")


def run(ctx: StageContext) -> dict[str, Any]:
    from svp.media.frames import sample_frames
    from svp.media.ocr import merge_lines, read_frames

    media = ctx.output_of("downloader")
    settings = ctx.runtime.settings
    lines, frames, warning = [], 0, ""
    if media.get("has_video"):
        local = ctx.scratch / "media"
        ctx.runtime.blobs.download(media["artifacts"]["media"], local)
        counted = []

        def counting(items):
            for item in items:
                counted.append(item[0])
                yield item

        try:
            sampled = counting(sample_frames(local, settings.ocr_interval_seconds))
            lines = merge_lines(read_frames(sampled, settings))
        except Exception as exc:  # graceful degradation: the summary goes on with speech only
            warning = f"on-screen text could not be read: {type(exc).__name__}: {exc}"
            log.warning(warning)
        frames = len(counted)
    payload = {
        "lines": [{"text": line.text, "seconds": line.seconds} for line in lines],
        "engine": settings.ocr_engine,
        "frames": frames,
        "warning": warning,
    }
    uri = ctx.save("ocr.json", json.dumps(payload, ensure_ascii=False).encode(), "application/json")
    return {"artifacts": {"ocr": uri}, "lines": len(lines), "frames": frames, "warning": warning}
