"""Registered databases: the Link Databases to poll and the Content Database of each tag.

Registrations live in the state store (SQLite locally, Firestore on gcp), written by
`svp register`; SVP_LINK_DATABASES and SVP_CONTENT_DATABASES add databases by configuration.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from svp.config import LOCAL_USER
from svp.runtime import jobs
from svp.runtime.context import Runtime

REGISTRATIONS = "registrations"


def link_key(data_source_id: str, user: str = LOCAL_USER) -> str:
    return f"{user}:link:{data_source_id.replace('-', '')}"


def content_key(tag: str, user: str = LOCAL_USER) -> str:
    # Quoted: a tag may hold '/', which Firestore would read as a path separator.
    return f"{user}:content:{quote(tag, safe='')}"


class Registry:
    def __init__(self, runtime: Runtime, user: str = LOCAL_USER):
        self.runtime = runtime
        self.user = user

    def _registered(self, kind: str) -> list[dict[str, Any]]:
        return self.runtime.state.list(REGISTRATIONS, where={"kind": kind, "user": self.user})

    @property
    def _configured(self) -> bool:
        """SVP_LINK_DATABASES / SVP_CONTENT_DATABASES belong to the NOTION_TOKEN integration,
        that is the local user, never to people who signed in with their own workspace."""
        return self.user == LOCAL_USER

    def link_databases(self) -> list[str]:
        """Link Database references to poll: registered data source ids, then configured ids."""
        registered = [r["data_source_id"] for r in self._registered("link")]
        configured = list(self.runtime.settings.link_databases) if self._configured else []
        return list(dict.fromkeys(registered + configured))

    def content(self, tag: str) -> dict[str, Any] | None:
        found = self.runtime.state.get(REGISTRATIONS, content_key(tag, self.user))
        if found:
            return found
        configured = self.runtime.settings.content_databases.get(tag) if self._configured else None
        return {"tag": tag, "database": configured} if configured else None

    def tags(self) -> list[str]:
        tags = {r["tag"] for r in self._registered("content")}
        configured = set(self.runtime.settings.content_databases) if self._configured else set()
        return sorted(tags | configured)

    def all(self) -> list[dict[str, Any]]:
        return self._registered("link") + self._registered("content")

    def save(self, registration: dict[str, Any]) -> dict[str, Any]:
        doc = {**registration, "user": self.user, "updated_at": jobs.iso(time.time())}
        key = (
            link_key(doc["data_source_id"], self.user)
            if doc["kind"] == "link"
            else content_key(doc["tag"], self.user)
        )
        self.runtime.state.put(REGISTRATIONS, key, doc)
        return doc

    def remove_link(self, data_source_id: str) -> bool:
        key = link_key(data_source_id, self.user)
        existed = self.runtime.state.get(REGISTRATIONS, key) is not None
        self.runtime.state.delete(REGISTRATIONS, key)
        return existed

    def remove_content(self, tag: str) -> bool:
        key = content_key(tag, self.user)
        existed = self.runtime.state.get(REGISTRATIONS, key) is not None
        self.runtime.state.delete(REGISTRATIONS, key)
        return existed
