"""Notion's integration webhooks: a real-time trigger, with polling as the backstop.

Notion first POSTs `{"verification_token": ...}` (unsigned); the operator pastes that token into
the integration's settings to confirm the endpoint (`svp webhook-token` shows it). Every event
after that is signed: `X-Notion-Signature: sha256=<HMAC-SHA256 of the raw body, keyed by the
token>`. Events are signals only (they may come late, twice or never): the page is fetched
and queued through the poller's own path, which claims each link once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from svp.errors import StageError
from svp.runtime import jobs
from svp.runtime.context import Runtime

log = logging.getLogger("svp.webhook")
EVENTS = "webhook_events"
SETTINGS = "settings"
TOKEN_KEY = "notion_webhook"
LINK_EVENTS = ("page.created", "page.properties_updated")
# Notion retries a delivery for a few hours at most: a week of event ids is plenty to dedupe.
EVENT_RETENTION_SECONDS = 7 * 24 * 3600


@dataclass
class WebhookReply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def stored_token(runtime: Runtime) -> str:
    configured = runtime.settings.notion_webhook_token
    if configured:
        return configured
    saved = runtime.state.get(SETTINGS, TOKEN_KEY) or {}
    return saved.get("verification_token", "")


def signature_ok(token: str, body: bytes, header: str | None) -> bool:
    if not token or not header:
        return False
    expected = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def handle(runtime: Runtime, headers: dict[str, str], body: bytes) -> WebhookReply:
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return WebhookReply(400, {"error": "body is not JSON"})
    if not isinstance(payload, dict):
        return WebhookReply(400, {"error": "body must be a JSON object"})

    if "verification_token" in payload and "x-notion-signature" not in lowered:
        return _verification(runtime, str(payload["verification_token"]))
    if not signature_ok(stored_token(runtime), body, lowered.get("x-notion-signature")):
        log.warning("webhook request with a missing or bad signature refused")
        return WebhookReply(401, {"error": "missing or invalid X-Notion-Signature"})

    event_id = str(payload.get("id") or "")
    if not event_id:
        return WebhookReply(400, {"error": "event without id"})
    now = time.time()
    seen = {"type": payload.get("type"), "received_at": jobs.iso(now),
            "expire_at": jobs.iso(now + EVENT_RETENTION_SECONDS)}  # fmt: skip
    if not runtime.state.create(EVENTS, event_id, seen):
        return WebhookReply(200, {"status": "duplicate"})
    if payload.get("type") not in LINK_EVENTS:
        return WebhookReply(200, {"status": "ignored"})
    return _link_event(runtime, payload)


def _verification(runtime: Runtime, token: str) -> WebhookReply:
    """Keep the first token only: an unsigned request must not be able to replace it."""
    if stored_token(runtime):
        log.warning("a second verification token was offered and ignored")
        return WebhookReply(200, {"status": "already verified"})
    runtime.state.put(SETTINGS, TOKEN_KEY, {"verification_token": token,
                                            "updated_at": jobs.iso(time.time())})  # fmt: skip
    log.info("Notion webhook verification token received: `svp webhook-token` shows it")
    return WebhookReply(200, {"status": "verification token stored"})


def _link_event(runtime: Runtime, payload: dict[str, Any]) -> WebhookReply:
    from svp.notion.links import PENDING, read_entry
    from svp.notion.status import link_status
    from svp.stages.poller import PollReport, enqueue

    notion = runtime.notion
    if notion is None:
        return WebhookReply(503, {"error": "NOTION_TOKEN is not set"})
    parent = (payload.get("data") or {}).get("parent") or {}
    parent_id = str(parent.get("data_source_id") or parent.get("id") or "").replace("-", "")
    page_id = str((payload.get("entity") or {}).get("id") or "")
    try:
        source = _link_source(runtime, parent_id)
        if source is None:
            return WebhookReply(200, {"status": "not a Link Database"})
        page = notion.retrieve_page(page_id)
        if _status(page) != PENDING:
            return WebhookReply(200, {"status": "not pending"})
        report = PollReport()
        enqueue(runtime, link_status(runtime), read_entry(page, source), report)
    except StageError as exc:
        # Polling will pick the link up; a 5xx would only make Notion resend the signal.
        log.error("webhook event %s not handled: %s", payload.get("id"), exc)
        return WebhookReply(200, {"status": "left to polling", "reason": exc.reason})
    return WebhookReply(200, {"status": "queued" if report.queued else "known"})


def _link_source(runtime: Runtime, parent_id: str) -> str | None:
    """The registered Link Database's data source the event's parent is (or contains)."""
    from svp.notion.registry import Registry

    assert runtime.notion is not None
    for ref in Registry(runtime).link_databases():
        found = runtime.notion.resolve(ref)
        if parent_id in (found["data_source_id"].replace("-", ""),
                         found["database_id"].replace("-", "")):  # fmt: skip
            return found["data_source_id"]
    return None


def _status(page: dict[str, Any]) -> str:
    from svp.notion.links import find_property
    from svp.notion.properties import plain

    props = page.get("properties", {})
    name = find_property(props, "status")
    return (plain(props[name]) or "") if name else ""
