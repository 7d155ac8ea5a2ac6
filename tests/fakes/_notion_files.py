"""File uploads for :mod:`tests.fakes.notion`: File Upload objects and their lifecycle
(create, send, expire, attach) and the file objects pages and media blocks carry.

An upload is ``pending`` until its contents are sent, then ``uploaded``; one not attached
within an hour of its creation is ``expired``. Attaching one turns it into what Notion
returns for a hosted file, ``{"type": "file", "file": {"url", "expiry_time"}}``, with a URL
under the fake's own ``/files/`` that serves the bytes.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from ._form_data import FormDataError, FormPart, parse_form_data
from ._notion_schema import (
    FAKE_USER_ID,
    MAX_URL,
    NotionError,
    new_id,
    normalize_id,
    rich_text_in,
    validation_error,
)
from ._server import Reply

Json = dict[str, Any]

FREE_PLAN_FILE_BYTES = 5 * 1024 * 1024  # a free workspace's per-file limit (5 MiB)
SINGLE_PART_BYTES = 20 * 1024 * 1024  # above this Notion wants mode=multi_part
MAX_FILENAME_BYTES = 900
UPLOAD_LIFETIME = timedelta(hours=1)  # to send and attach an upload
FILE_URL_LIFETIME = timedelta(hours=1)  # of the signed URL a hosted file is read from
MODES = ("single_part", "multi_part", "external_url")
STATUSES = ("pending", "uploaded", "expired", "failed")
MEDIA_BLOCK_TYPES = frozenset({"image", "file", "pdf", "video", "audio"})


@dataclass
class FileUpload:
    """One File Upload object; ``data`` is None until its contents are sent."""

    id: str
    workspace_id: str
    filename: str | None
    content_type: str | None
    created: datetime
    last_edited: datetime
    expires_at: datetime | None  # None once attached: it no longer expires
    data: bytes | None = None

    def status(self, now: datetime) -> str:
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "pending" if self.data is None else "uploaded"

    def to_json(self, base_url: str, now: datetime) -> Json:
        status = self.status(now)
        shown: Json = {
            "object": "file_upload",
            "id": self.id,
            "created_time": _iso(self.created),
            "created_by": {"id": FAKE_USER_ID, "type": "bot"},
            "last_edited_time": _iso(self.last_edited),
            "archived": False,
            "in_trash": False,
            "expiry_time": _iso(self.expires_at) if self.expires_at else None,
            "status": status,
            "filename": self.filename,
            "content_type": self.content_type,
            "content_length": len(self.data) if self.data is not None else None,
        }
        if status == "pending":
            shown["upload_url"] = f"{base_url}/v1/file_uploads/{self.id}/send"
        return shown


class FileUploads:
    """The File Upload objects of every workspace. ``workspace_id=None`` in a call means
    a test helper asking: every upload is visible to it."""

    def __init__(self, base_url: Callable[[], str]) -> None:
        self.records: dict[str, FileUpload] = {}
        self.max_file_bytes = FREE_PLAN_FILE_BYTES
        self._base_url = base_url
        self._attaching: set[str] = set()  # uploads named by the request being served
        self.refused_urls: set[str] = set()  # external images Notion will not show

    # -- routes ----------------------------------------------------------------------------

    def create(self, body: Json, workspace_id: str) -> Json:
        mode = body.get("mode", "single_part")
        if mode not in MODES:
            raise validation_error(
                f"body.mode should be one of `single_part`, `multi_part`, `external_url`, "
                f"instead was `{mode!r}`."
            )
        if mode != "single_part":
            raise validation_error(
                f"FakeNotion does not support mode `{mode}` file uploads, only `single_part`."
            )
        filename, content_type = body.get("filename"), body.get("content_type")
        if filename is not None and not isinstance(filename, str):
            raise validation_error("body.filename should be a string.")
        if filename is not None and len(filename.encode()) > MAX_FILENAME_BYTES:
            raise validation_error(
                f"body.filename should be at most {MAX_FILENAME_BYTES} bytes long."
            )
        if content_type is not None and not isinstance(content_type, str):
            raise validation_error("body.content_type should be a string.")
        _check_agreement(filename, content_type, "body.content_type")
        return self.add(workspace_id, filename, content_type).to_json(self._base_url(), _now())

    def send(self, raw_id: str, content_type: str | None, body: bytes, workspace_id: str) -> Json:
        upload = self._visible(raw_id, workspace_id)
        try:
            parts = parse_form_data(content_type, body)
        except FormDataError as err:
            raise validation_error(
                f"Send a file upload takes a multipart/form-data body with the file under "
                f"the `file` key: {err}."
            ) from None
        file = parts.get("file")
        if file is None or file.filename is None:
            raise validation_error("body.file should be a file, instead was `undefined`.")
        if "part_number" in parts:
            raise validation_error("part_number is only accepted for multi_part file uploads.")
        self._check_sendable(upload, file)
        upload.filename = upload.filename or file.filename
        upload.content_type = upload.content_type or _content_type_of(file)
        upload.data = file.data
        upload.last_edited = _minute(_now())
        return upload.to_json(self._base_url(), _now())

    def retrieve(self, raw_id: str, workspace_id: str | None) -> Json:
        return self._visible(raw_id, workspace_id).to_json(self._base_url(), _now())

    def listed(self, workspace_id: str | None, status: str | None) -> dict[str, Json]:
        """The uploads a workspace sees (creation order), as JSON by id."""
        if status is not None and status not in STATUSES:
            raise validation_error(
                f"status should be one of `{'`, `'.join(STATUSES)}`, instead was `{status}`."
            )
        now, base = _now(), self._base_url()
        return {
            upload.id: upload.to_json(base, now)
            for upload in self.records.values()
            if workspace_id in (None, upload.workspace_id) and status in (None, upload.status(now))
        }

    def serve(self, path: str) -> Reply:
        """``GET /files/<id>/<name>``: the bytes behind a hosted file's URL."""
        match = re.fullmatch(r"/files/([0-9a-f-]{36})/[^/]*", path)
        upload = self.records.get(match.group(1)) if match else None
        if upload is None or upload.data is None or upload.expires_at is not None:
            return Reply(404, "FakeNotion: no attached file at this URL")
        content_type = upload.content_type or "application/octet-stream"
        return Reply(200, upload.data, {"Content-Type": content_type})

    # -- attaching ------------------------------------------------------------------------

    @contextmanager
    def attaching(self) -> Iterator[None]:
        """Uploads named inside the block count as attached only if it ends without error."""
        try:
            yield
            for upload_id in self._attaching:
                self.records[upload_id].expires_at = None
        finally:
            self._attaching.clear()

    def file_object_in(self, obj: Any, where: str, workspace_id: str | None) -> Json:
        """A file object in write format (``external`` or ``file_upload``), in read format."""
        if not isinstance(obj, dict):
            raise validation_error(f"{where} should be a file object, instead was `{obj!r}`.")
        kind = obj.get("type") or next((k for k in ("external", "file_upload") if k in obj), None)
        content = obj.get(kind) if isinstance(kind, str) else None
        if kind == "external":
            url = content.get("url") if isinstance(content, dict) else None
            if not isinstance(url, str) or not url or len(url) > MAX_URL:
                raise validation_error(
                    f"{where}.external.url should be a URL of at most {MAX_URL} characters."
                )
            if url in self.refused_urls:
                raise validation_error("Invalid image url.")
            return {"type": "external", "external": {"url": url}}
        if kind == "file_upload":
            raw_id = content.get("id") if isinstance(content, dict) else None
            upload = self._attachable(raw_id, f"{where}.file_upload.id", workspace_id)
            self._attaching.add(upload.id)
            return self._hosted(upload)
        if kind == "file":
            raise validation_error(
                f"{where}.type `file` cannot be written: attach an upload with `file_upload` "
                "or link a file with `external`."
            )
        raise validation_error(
            f"{where} should be a file object of type `external` or `file_upload`, "
            f"instead was `{obj!r}`."
        )

    def icon_in(self, obj: Any, where: str, workspace_id: str | None) -> Json:
        if isinstance(obj, dict) and obj.get("type", "emoji" if "emoji" in obj else None) in (
            "emoji",
            "custom_emoji",
        ):
            return obj
        return self.file_object_in(obj, where, workspace_id)

    def media_in(self, btype: str, content: Json, where: str, workspace_id: str | None) -> Json:
        """The content of an image/file/pdf/video/audio block in read format."""
        caption = rich_text_in(content.get("caption", []), f"{where}.caption")
        file_object = {k: v for k, v in content.items() if k not in ("caption", "name")}
        shown = {"caption": caption, **self.file_object_in(file_object, where, workspace_id)}
        if btype == "file":
            shown["name"] = content.get("name") or self._name_of(shown)
        return shown

    def described(self, stored: Json | None) -> Json | None:
        """A stored file object for tests: where its bytes came from."""
        if not stored:
            return None
        if stored["type"] == "external":
            return {"type": "external", "url": stored["external"]["url"]}
        if stored["type"] != "file":  # an emoji icon
            return dict(stored)
        url = stored["file"]["url"]
        upload = self.upload_for_url(url)
        if upload is None:
            return {"type": "file", "url": url}
        return {
            "type": "file_upload",
            "id": upload.id,
            "filename": upload.filename,
            "content_type": upload.content_type,
            "bytes": upload.data,
            "url": url,
        }

    def upload_for_url(self, url: str) -> FileUpload | None:
        prefix = re.escape(self._base_url()) + r"/files/([0-9a-f-]{36})/"
        match = re.match(prefix, url)
        return self.records.get(match.group(1)) if match else None

    # -- helpers for tests ------------------------------------------------------------

    def add(
        self,
        workspace_id: str,
        filename: str | None,
        content_type: str | None,
        data: bytes | None = None,
    ) -> FileUpload:
        created = _minute(_now())
        upload = FileUpload(
            id=new_id(),
            workspace_id=workspace_id,
            filename=filename,
            content_type=content_type,
            created=created,
            last_edited=created,
            expires_at=created + UPLOAD_LIFETIME,
            data=data,
        )
        self.records[upload.id] = upload
        return upload

    def expire(self, upload_id: str) -> None:
        """The upload's hour is over (it was not attached in time): it cannot be used."""
        self.records[normalize_id(upload_id)].expires_at = _now() - timedelta(seconds=1)

    # -- internals -----------------------------------------------------------------------

    def _visible(self, raw_id: Any, workspace_id: str | None) -> FileUpload:
        upload_id = normalize_id(raw_id, "path.file_upload_id")
        upload = self.records.get(upload_id)
        if upload is None or workspace_id not in (None, upload.workspace_id):
            raise NotionError(
                404, "object_not_found", f"Could not find file upload with ID: {upload_id}."
            )
        return upload

    def _check_sendable(self, upload: FileUpload, file: FormPart) -> None:
        status = upload.status(_now())
        if status != "pending":
            why = "its contents were already sent" if status == "uploaded" else "create a new one"
            raise validation_error(
                f"File upload {upload.id} has status `{status}`, not `pending`: {why}."
            )
        limit = min(self.max_file_bytes, SINGLE_PART_BYTES)
        if len(file.data) > limit:
            raise validation_error(
                f"The file is {len(file.data)} bytes, more than the {limit} bytes a file "
                "may have in this workspace."
            )
        sent_type = _content_type_of(file)
        _check_agreement(file.filename, upload.content_type or sent_type, "file")
        if (
            upload.content_type
            and sent_type
            and _base_type(sent_type) != _base_type(upload.content_type)
        ):
            raise validation_error(
                f"The file's content type `{sent_type}` does not match the content type "
                f"`{upload.content_type}` given when the file upload was created."
            )

    def _attachable(self, raw_id: Any, where: str, workspace_id: str | None) -> FileUpload:
        upload_id = normalize_id(raw_id, where)
        upload = self.records.get(upload_id)
        if upload is None or workspace_id not in (None, upload.workspace_id):
            raise validation_error(
                f"{where}: Could not find file upload with ID: {upload_id}. Make sure it "
                "was created by this integration in this workspace."
            )
        status = upload.status(_now())
        if status != "uploaded":
            why = (
                "send its contents before attaching it"
                if status == "pending"
                else "it was not attached within an hour of its creation; upload the file again"
            )
            raise validation_error(
                f"{where}: file upload {upload_id} has status `{status}`, only an `uploaded` "
                f"file upload can be attached: {why}."
            )
        return upload

    def _hosted(self, upload: FileUpload) -> Json:
        name = quote(upload.filename or "file")
        return {
            "type": "file",
            "file": {
                "url": f"{self._base_url()}/files/{upload.id}/{name}",
                "expiry_time": _iso(_now() + FILE_URL_LIFETIME),
            },
        }

    def _name_of(self, shown: Json) -> str:
        url = shown[shown["type"]]["url"]
        upload = self.upload_for_url(url)
        return (upload.filename if upload else None) or url.rsplit("/", 1)[-1]


def _check_agreement(filename: str | None, content_type: str | None, where: str) -> None:
    """A file's name and content type must agree: "content_type ... must match the file
    extension of `filename`" (https://developers.notion.com/reference/create-a-file-upload)."""
    if not filename or not content_type or "." not in filename:
        return
    guessed, _ = mimetypes.guess_type(filename)
    if guessed and _base_type(guessed) != _base_type(content_type):
        raise validation_error(
            f"{where} `{content_type}` does not match the extension of `{filename}` (`{guessed}`)."
        )


def _content_type_of(part: FormPart) -> str | None:
    if part.content_type:
        return part.content_type
    return mimetypes.guess_type(part.filename or "")[0]


def _base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _now() -> datetime:
    return datetime.now(UTC)


def _minute(moment: datetime) -> datetime:
    """Notion's created_time and last_edited_time are rounded down to the minute."""
    return moment.replace(second=0, microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
