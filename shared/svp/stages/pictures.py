"""The page's pictures as the writer attaches them.

The OCR stage chose them (`pictures`: {uri, source, caption}, the cover first: see
svp.stages.ocr). In Notion each is sent once per job through the File Upload API and attached
by id (the cover and an image block, on every page of the job: an upload can be attached many
times). A picture is never worth a page: when an upload fails the page gets the platform's
thumbnail by address (`thumbnail_url`, shown by Notion from the platform, while its link
lasts), else no picture. Locally the pictures are written beside the Markdown page.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from svp.errors import StageError
from svp.notion.gateway import NotionGateway
from svp.runtime.runner import StageContext

log = logging.getLogger("svp.writer")

Picture = tuple[dict[str, Any], str]  # (Notion file object, caption)


def of_job(ctx: StageContext) -> list[dict[str, Any]]:
    return list(ctx.output_of("ocr").get("pictures") or [])


class NotionPictures:
    """The job's pictures as Notion file objects, uploaded when first asked for."""

    def __init__(self, ctx: StageContext, notion: NotionGateway):
        self.ctx = ctx
        self.notion = notion
        self._files: list[Picture] | None = None

    def files(self) -> list[Picture]:
        if self._files is None:
            self._files = self._uploaded() or self._by_address()
        return self._files

    def _uploaded(self) -> list[Picture]:
        uploaded: list[Picture] = []
        for index, picture in enumerate(of_job(self.ctx)):
            data = self.ctx.runtime.blobs.get_bytes(picture["uri"])
            name = f"{self.ctx.job_id}-{index + 1}.jpg"
            try:
                upload = self.notion.upload(name, data, "image/jpeg")
            except StageError as exc:
                log.warning("the picture %s could not be uploaded: %s", name, exc.reason)
                break  # Notion refuses or struggles: the page must not wait for pictures
            uploaded.append(
                ({"type": "file_upload", "file_upload": {"id": upload}}, _caption(picture))
            )
        return uploaded

    def _by_address(self) -> list[Picture]:
        url = self.ctx.output_of("downloader").get("thumbnail_url") or ""
        return [({"type": "external", "external": {"url": url}}, "Thumbnail")] if url else []


def _caption(picture: dict[str, Any]) -> str:
    return str(picture.get("caption") or "")


def copy_beside(ctx: StageContext, page: Path) -> list[tuple[str, str]]:
    """The job's pictures written next to the Markdown `page` (PAGE-1.jpg, PAGE-2.jpg, ...):
    (file name, caption) for the page to show them."""
    shown = []
    for index, picture in enumerate(of_job(ctx)):
        path = page.with_name(f"{page.stem}-{index + 1}.jpg")
        path.write_bytes(ctx.runtime.blobs.get_bytes(picture["uri"]))
        shown.append((path.name, _caption(picture)))
    return shown
