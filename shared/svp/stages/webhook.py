"""The webhook function: a Notion event about a link queues it at once, through the poller's
own path (polling stays the backstop)."""

from __future__ import annotations

import logging
from typing import Any

from svp.accounts import notion_for
from svp.config import LOCAL_USER
from svp.errors import StageError
from svp.notion import webhook
from svp.notion.links import PENDING, find_property, read_entry
from svp.notion.properties import plain
from svp.notion.registry import Registry
from svp.runtime.context import Runtime
from svp.stages.poller import PollReport, enqueue
from svp.stages.status import link_status

log = logging.getLogger("svp.webhook")


def handle(runtime: Runtime, headers: dict[str, str], body: bytes) -> webhook.WebhookReply:
    return webhook.handle(runtime, headers, body, link_event)


def link_event(runtime: Runtime, payload: dict[str, Any]) -> webhook.WebhookReply:
    notion = notion_for(runtime, LOCAL_USER)
    if notion is None:
        return webhook.WebhookReply(503, {"error": "NOTION_TOKEN is not set"})
    parent = (payload.get("data") or {}).get("parent") or {}
    parent_id = str(parent.get("data_source_id") or parent.get("id") or "").replace("-", "")
    page_id = str((payload.get("entity") or {}).get("id") or "")
    try:
        if payload.get("type") == "page.properties_updated" and _ours(notion, payload):
            # The pipeline's own status write coming back: nothing to fetch.
            return webhook.WebhookReply(200, {"status": "our own change"})
        source = _link_source(runtime, notion, parent_id)
        if source is None:
            return webhook.WebhookReply(200, {"status": "not a Link Database"})
        page = notion.retrieve_page(page_id)
        if _status(page) != PENDING:
            return webhook.WebhookReply(200, {"status": "not pending"})
        entry = read_entry(page, source)
        if entry is None:
            return webhook.WebhookReply(200, {"status": "not a link"})
        report = PollReport()
        enqueue(runtime, link_status(runtime), entry, report)
    except Exception as exc:  # noqa: BLE001 - a row a person made must not make Notion resend
        # Polling will pick the link up; a 5xx would only make Notion resend the signal.
        reason = exc.reason if isinstance(exc, StageError) else f"{type(exc).__name__}: {exc}"
        log.error("webhook event %s not handled: %s", payload.get("id"), reason)
        return webhook.WebhookReply(200, {"status": "left to polling", "reason": reason})
    if report.errors:
        return webhook.WebhookReply(200, {"status": "left to polling", "reason": report.errors[0]})
    return webhook.WebhookReply(200, {"status": "queued" if report.queued else "known"})


def _ours(notion: Any, payload: dict[str, Any]) -> bool:
    """Whether every author the event names is this integration's bot."""
    authors = [a for a in payload.get("authors") or [] if isinstance(a, dict)]
    if not authors or any(a.get("type") != "bot" for a in authors):
        return False
    bot = notion.bot_user_id().replace("-", "")
    return all(str(a.get("id") or "").replace("-", "") == bot for a in authors)


def _link_source(runtime: Runtime, notion: Any, parent_id: str) -> str | None:
    """The registered Link Database's data source the event's parent is (or contains)."""
    for ref in Registry(runtime).link_databases():
        found = notion.resolve(ref)
        ids = (found["data_source_id"].replace("-", ""), found["database_id"].replace("-", ""))
        if parent_id in ids:
            return found["data_source_id"]
    return None


def _status(page: dict[str, Any]) -> str:
    props = page.get("properties", {})
    name = find_property(props, "status")
    return (plain(props[name]) or "") if name else ""
