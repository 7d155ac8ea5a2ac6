"""Notion API 2025-09-03 through notion-client: databases hold data sources, pages live in them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from svp.errors import PermanentError, StageError, TransientError

SCHEMA_TTL_SECONDS = 3600


def normalize_id(value: str) -> str:
    """A Notion URL or id -> the 32-hex id (dashes removed)."""
    import re

    match = re.findall(r"[0-9a-fA-F]{32}|[0-9a-fA-F-]{36}", value.split("?")[0])
    if not match:
        raise PermanentError(f"not a Notion id or URL: {value!r}")
    return match[-1].replace("-", "").lower()


def translate_error(exc: Exception) -> StageError:
    from notion_client.errors import APIResponseError, RequestTimeoutError

    if isinstance(exc, RequestTimeoutError):
        return TransientError(f"Notion timed out: {exc}")
    status = getattr(exc, "status", 0)
    code = str(getattr(exc, "code", "")) if isinstance(exc, APIResponseError) else ""
    if status in (429, 529) or status >= 500 or not isinstance(exc, APIResponseError):
        return TransientError(f"Notion answered {status} {code}: {exc}".strip())
    if status == 401:
        return PermanentError(
            "Notion rejected the token (revoked or invalid): reconnect the integration"
        )
    if status == 404:
        return PermanentError(f"Notion object not found or not shared with the integration: {exc}")
    return PermanentError(f"Notion refused the request ({code}): {exc}")


class NotionGateway:
    def __init__(self, token: str, base_url: str | None = None):
        from notion_client import Client

        options: dict[str, Any] = {
            "auth": token,
            "notion_version": "2025-09-03",
            # Its default logger prints to stdout; ours writes Cloud Logging JSON.
            "logger": logging.getLogger("svp.notion.client"),
        }
        if base_url:
            options["base_url"] = base_url
        self.client = Client(**options)
        self._lock = threading.Lock()
        self._data_sources: dict[str, str] = {}
        self._schemas: dict[str, tuple[float, dict[str, Any]]] = {}

    def call(self, fn, *args, **kwargs):
        """Run an SDK call, turning its errors into permanent or transient stage errors."""
        from notion_client.errors import HTTPResponseError, RequestTimeoutError

        try:
            return fn(*args, **kwargs)
        except (HTTPResponseError, RequestTimeoutError) as exc:
            raise translate_error(exc) from exc

    def data_source_id(self, database_or_source: str) -> str:
        """Accept a database id or URL (its first data source) or a data source id."""
        from notion_client.errors import APIResponseError

        key = normalize_id(database_or_source)
        if key in self._data_sources:
            return self._data_sources[key]
        try:
            database = self.client.databases.retrieve(database_id=key)
            sources = database.get("data_sources") or []
            if not sources:
                raise PermanentError(f"Notion database {key} has no data source")
            resolved = sources[0]["id"]
        except APIResponseError as exc:
            if exc.status != 404:
                raise translate_error(exc) from exc
            resolved = key  # not a database: maybe already a data source id
        with self._lock:
            self._data_sources[key] = resolved
        return resolved

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

    def query(self, data_source_id: str, filter: dict | None = None) -> Iterator[dict]:
        cursor = None
        while True:
            body: dict[str, Any] = {"data_source_id": data_source_id, "page_size": 100}
            if filter:
                body["filter"] = filter
            if cursor:
                body["start_cursor"] = cursor
            response = self.call(self.client.data_sources.query, **body)
            yield from response.get("results", [])
            if not response.get("has_more"):
                return
            cursor = response.get("next_cursor")

    def create_page(
        self, data_source_id: str, properties: dict, children: list[dict] | None = None
    ) -> dict:
        body: dict[str, Any] = {
            "parent": {"type": "data_source_id", "data_source_id": data_source_id},
            "properties": properties,
        }
        if children:
            body["children"] = children[:100]
        page = self.call(self.client.pages.create, **body)
        for start in range(100, len(children or []), 100):
            self.call(
                self.client.blocks.children.append,
                block_id=page["id"],
                children=children[start : start + 100],
            )
        return page

    def update_page(self, page_id: str, properties: dict) -> dict:
        return self.call(self.client.pages.update, page_id=page_id, properties=properties)
