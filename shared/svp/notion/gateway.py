"""Notion API 2025-09-03 through notion-client: databases hold data sources, pages live in them."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from svp import retrying
from svp.errors import PermanentError, StageError, TransientError
from svp.notion.budget import SharedPause
from svp.notion.ratelimit import limiter_for

SCHEMA_TTL_SECONDS = 3600


_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}", re.IGNORECASE
)


def normalize_id(value: str) -> str:
    """A Notion URL or id -> the 32-hex id (dashes removed). In a URL the id is the last one
    in the path (`notion.so/ws/Title-<id>?v=<view id>`)."""
    path = value.split("?")[0].split("#")[0]
    found = _ID.findall(path)
    if not found:
        raise PermanentError(f"not a Notion id or URL: {value!r}")
    return found[-1].replace("-", "").lower()


class NotionRequestError(PermanentError):
    """Notion refused a request (4xx): `code` is Notion's error code, e.g. validation_error."""

    def __init__(self, reason: str, code: str, status: int):
        super().__init__(reason)
        self.code = code
        self.status = status


def translate_error(exc: Exception) -> StageError:
    from notion_client.errors import APIResponseError, RequestTimeoutError

    if isinstance(exc, RequestTimeoutError):
        return TransientError(f"Notion timed out: {exc}")
    if not isinstance(exc, APIResponseError) and not getattr(exc, "status", 0):
        return TransientError(f"Notion could not be reached: {type(exc).__name__}: {exc}")
    status = getattr(exc, "status", 0)
    code = getattr(exc, "code", "") if isinstance(exc, APIResponseError) else ""
    code = str(getattr(code, "value", code))  # notion-client gives an APIErrorCode enum
    if status in RETRYABLE or status >= 500 or not isinstance(exc, APIResponseError):
        return TransientError(f"Notion answered {status} {code}: {exc}".strip())
    if status == 401:
        reason = "Notion rejected the token (revoked or invalid): reconnect the integration"
    elif status in (403, 404):
        reason = (
            f"Notion says the integration cannot reach this object ({exc}): share the database "
            "with the integration again (••• menu → Connections)"
        )
    else:
        reason = f"Notion refused the request ({code}): {exc}"
    return NotionRequestError(reason, code, status)


RATE_LIMITED = (429, 529)
# 409 conflict_error: the transaction collided and was not applied; Notion says to retry
# (https://developers.notion.com/reference/status-codes#error-codes), so it is safe to
# repeat even for a page creation, and never Notion's final answer.
CONFLICT = 409
RETRYABLE = (*RATE_LIMITED, CONFLICT)
ATTEMPTS = 5
BACKOFF_CAP_SECONDS = 30.0


def _from_notion(exc: BaseException | None) -> bool:
    """An answer (or the silence) of Notion's API, as the SDK and httpx raise it."""
    import httpx
    from notion_client.errors import HTTPResponseError, RequestTimeoutError

    return isinstance(exc, HTTPResponseError | RequestTimeoutError | httpx.TransportError)


def _judge(exc: BaseException, idempotent: bool) -> retrying.Verdict:
    """Retry 429/529 (after Retry-After) and 409 conflicts; 5xx, timeouts and dropped
    connections of a call that is safe to repeat; anything else is Notion's final answer."""
    if not _from_notion(exc):
        return retrying.Verdict(False, f"{type(exc).__name__}: {exc}")
    status = getattr(exc, "status", 0)
    unanswered = not status
    if status in RATE_LIMITED:
        wait = retrying.retry_after(getattr(exc, "headers", None))
        return retrying.Verdict(True, f"Notion answered {status}", wait)
    if status == CONFLICT:
        return retrying.Verdict(True, "Notion answered 409 conflict_error")
    retry = idempotent and (status >= 500 or unanswered)
    return retrying.Verdict(retry, f"Notion answered {status or type(exc).__name__}")


class NotionGateway:
    """The Notion calls the pipeline makes, with one retry policy and a shared rate limiter.

    notion-client's own retries are off: here 429 and 529 wait for Retry-After; 5xx and
    timeouts are retried only for idempotent calls (reads, queries, page updates). Creating a
    page is made idempotent by the writer, which looks for the page before creating it.
    """

    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        requests_per_second: float = 3,
        retry_seconds: float = 0.5,
        shared: SharedPause | None = None,
    ):
        from notion_client import Client

        options: dict[str, Any] = {
            "auth": token,
            "notion_version": "2025-09-03",
            "retry": False,
            # Its default logger prints every failed attempt to stdout; this gateway logs the
            # outcome itself, so the SDK's logger only speaks up for errors.
            "logger": logging.getLogger("svp.notion.client"),
            "log_level": logging.ERROR,
        }
        if base_url:
            options["base_url"] = base_url
        self.client = Client(**options)
        self.limiter = limiter_for(token, requests_per_second)
        self.shared = shared  # Retry-After honoured across instances (svp.notion.budget)
        self.retry_seconds = retry_seconds  # first wait before retrying a 5xx or a timeout
        self._lock = threading.Lock()
        self._resolved: dict[str, dict[str, str]] = {}
        self._schemas: dict[str, tuple[float, dict[str, Any]]] = {}
        self._bot_id = ""

    def call(self, fn, *args, idempotent: bool = True, **kwargs):
        """Run an SDK call under the rate limit, retrying what is safe to retry.

        A connection reset or timeout may hide a request Notion applied: only idempotent calls
        are retried then; the others raise TransientError (the writer finds its page again)."""
        try:
            return retrying.call(
                lambda: fn(*args, **kwargs),
                judge=lambda exc: self._judged(exc, idempotent),
                attempts=ATTEMPTS,
                backoff=retrying.exponential(2 * self.retry_seconds, BACKOFF_CAP_SECONDS),
                before=self._before,
            )
        except retrying.GaveUp as exc:
            if not _from_notion(exc.cause):
                raise exc.cause from None  # a bug, not Notion's answer
            raise translate_error(exc.cause) from exc.cause

    def _before(self) -> None:
        self.limiter.acquire()
        if self.shared is not None:
            self.shared.wait()

    def _judged(self, exc: BaseException, idempotent: bool) -> retrying.Verdict:
        """A 429's Retry-After pauses every thread of this process, and every instance."""
        verdict = _judge(exc, idempotent)
        if getattr(exc, "status", 0) in RATE_LIMITED and _from_notion(exc):
            wait = verdict.wait if verdict.wait is not None else 1.0
            self.limiter.pause(wait)
            if self.shared is not None:
                self.shared.pause(wait)
        return verdict

    def bot_user_id(self) -> str:
        """The integration's own bot user (`users.me`): the author Notion names in the events
        of the writes this token makes. Cached: it does not change."""
        if not self._bot_id:
            self._bot_id = str(self.call(self.client.users.me).get("id") or "")
        return self._bot_id

    def data_source_id(self, database_or_source: str) -> str:
        """Accept a database id or URL (its first data source) or a data source id."""
        return self.resolve(database_or_source)["data_source_id"]

    def resolve(self, database_or_source: str) -> dict[str, str]:
        """Database id, data source id and title of a database (its first data source) or of a
        data source, from a Notion URL or id. Cached: ids do not change."""
        key = normalize_id(database_or_source)
        if key not in self._resolved:
            found = self._resolve(key)
            with self._lock:
                self._resolved[key] = found
        return self._resolved[key]

    def _resolve(self, key: str) -> dict[str, str]:
        # Data source first: that is what registrations store and the poller passes; the
        # answer carries the schema too, so the first poll needs one request less.
        try:
            source = self.call(self.client.data_sources.retrieve, data_source_id=key)
        except NotionRequestError as exc:
            if exc.status not in (400, 404):
                raise
        else:
            with self._lock:
                self._schemas[source["id"]] = (time.monotonic(), source.get("properties") or {})
            parent = source.get("parent") or {}
            return {
                "database_id": parent.get("database_id", ""),
                "data_source_id": source["id"],
                "title": plain_title(source.get("title")),
            }
        database = self.call(self.client.databases.retrieve, database_id=key)
        sources = database.get("data_sources") or []
        if not sources:
            raise PermanentError(f"Notion database {key} has no data source")
        return {
            "database_id": database["id"],
            "data_source_id": sources[0]["id"],
            "title": plain_title(database.get("title")),
        }

    def schema(self, data_source_id: str, *, refresh: bool = False) -> dict[str, Any]:
        """The data source's properties (name -> property object), cached for an hour."""
        cached = self._schemas.get(data_source_id)
        if cached and not refresh and time.monotonic() - cached[0] < SCHEMA_TTL_SECONDS:
            return cached[1]
        source = self.call(self.client.data_sources.retrieve, data_source_id=data_source_id)
        properties = source.get("properties") or {}
        with self._lock:
            self._schemas[data_source_id] = (time.monotonic(), properties)
        return properties

    def query(
        self, data_source_id: str, filter: dict | None = None, sorts: list | None = None
    ) -> Iterator[dict]:
        """Every row matching `filter`; in `sorts` order (without it Notion promises none)."""
        cursor = None
        while True:
            body: dict[str, Any] = {"data_source_id": data_source_id, "page_size": 100}
            if filter:
                body["filter"] = filter
            if sorts:
                body["sorts"] = sorts
            if cursor:
                body["start_cursor"] = cursor
            response = self.call(self.client.data_sources.query, **body)
            yield from response.get("results", [])
            if not response.get("has_more"):
                return
            cursor = response.get("next_cursor")

    def create_page(
        self,
        data_source_id: str,
        properties: dict,
        children: list[dict] | None = None,
        cover: dict | None = None,
    ) -> dict:
        body: dict[str, Any] = {
            "parent": {"type": "data_source_id", "data_source_id": data_source_id},
            "properties": properties,
        }
        if cover:
            body["cover"] = cover
        if children:
            body["children"] = children[:100]
        page = self.call(self.client.pages.create, idempotent=False, **body)
        for start in range(100, len(children or []), 100):
            self.call(
                self.client.blocks.children.append,
                idempotent=False,
                block_id=page["id"],
                children=children[start : start + 100],
            )
        return page

    def upload(self, filename: str, data: bytes, content_type: str) -> str:
        """A file sent through the File Upload API in one part (up to 20 MB; 5 MiB on a free
        workspace): its id, to attach within the hour (a cover, an image block), as many times
        as wanted. Both calls are safe to repeat: an upload never attached just expires."""
        created = self.call(
            self.client.file_uploads.create,
            mode="single_part",
            filename=filename,
            content_type=content_type,
        )
        sent = self.call(
            self.client.file_uploads.send,
            file_upload_id=created["id"],
            file=(filename, data, content_type),
        )
        if sent.get("status") != "uploaded":
            raise TransientError(f"Notion kept {filename} {sent.get('status')!r}, not uploaded")
        return created["id"]

    def update_page(self, page_id: str, properties: dict) -> dict:
        return self.call(self.client.pages.update, page_id=page_id, properties=properties)

    def trash_page(self, page_id: str) -> dict:
        return self.call(self.client.pages.update, page_id=page_id, in_trash=True)

    def retrieve_page(self, page_id: str) -> dict:
        return self.call(self.client.pages.retrieve, page_id=page_id)

    def update_schema(self, data_source_id: str, properties: dict) -> dict[str, Any]:
        """Add or change properties of a data source; returns (and caches) the new schema."""
        source = self.call(
            self.client.data_sources.update, data_source_id=data_source_id, properties=properties
        )
        schema = source.get("properties") or {}
        with self._lock:
            self._schemas[data_source_id] = (time.monotonic(), schema)
        return schema


def plain_title(rich: list[dict] | None) -> str:
    return "".join(
        part.get("plain_text") or part.get("text", {}).get("content", "") for part in rich or []
    )
