"""Notion's integration webhooks: a real-time trigger, with polling as the backstop.

Notion first POSTs `{"verification_token": ...}` (unsigned); the operator pastes that token into
the integration's settings to confirm the endpoint. Every event after that is signed:
`X-Notion-Signature: sha256=<HMAC-SHA256 of the raw body, keyed by the token>`. Events are
signals only (they may come late, twice or never): the caller's `link_event` fetches the page
and queues it through the poller's own path, which claims each link once
(svp.stages.webhook).

Whoever reaches the public endpoint can send a "verification token" too, so an unsigned
request never sets the token events are checked with:
- on Google Cloud (SVP_BACKEND=gcp) that token is NOTION_WEBHOOK_TOKEN (Secret Manager) and
  nothing else; without it every event is refused;
- locally, NOTION_WEBHOOK_TOKEN, or a received token the operator accepted with
  `svp webhook-token --accept`.
Received tokens are kept as pending (the last few, with the time they came) so the operator can
read them with `svp webhook-token`, on either backend, and never trusted on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from svp.runtime import jobs
from svp.runtime.context import Runtime

log = logging.getLogger("svp.webhook")
EVENTS = "webhook_events"
SETTINGS = "settings"
TOKEN_KEY = "notion_webhook"
PENDING_KEPT = 5  # received tokens listed for the operator; older ones are dropped
TOKEN_MAX_CHARS = 512
LINK_EVENTS = ("page.created", "page.properties_updated")
# Notion retries a delivery for a few hours at most: a week of event ids is plenty to dedupe.
EVENT_RETENTION_SECONDS = 7 * 24 * 3600


@dataclass
class WebhookReply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class WebhookTokenError(Exception):
    """`svp webhook-token --accept` cannot do what was asked; the message says why."""


def stored_token(runtime: Runtime) -> str:
    """The token events are checked with: NOTION_WEBHOOK_TOKEN, or locally an accepted one."""
    configured = runtime.settings.notion_webhook_token
    if configured or runtime.settings.uses_gcp:
        return configured
    saved = runtime.state.get(SETTINGS, TOKEN_KEY) or {}
    return saved.get("verification_token", "")


def pending_tokens(runtime: Runtime) -> list[dict[str, str]]:
    """Tokens received but not trusted, newest first: [{"token", "received_at"}]."""
    saved = runtime.state.get(SETTINGS, TOKEN_KEY) or {}
    return list(saved.get("pending") or [])


def accept_token(runtime: Runtime, token: str | None = None) -> str:
    """Trust a pending token (the only one, or `token`) for events, locally. Returns it."""
    if runtime.settings.uses_gcp:
        raise WebhookTokenError(
            "on Google Cloud the webhook token is NOTION_WEBHOOK_TOKEN, in Secret Manager:"
            " run `svp cloud webhook-token --accept TOKEN` (used within a minute)"
        )
    pending = [p["token"] for p in pending_tokens(runtime)]
    if token is None:
        if len(pending) != 1:
            raise WebhookTokenError(
                "no verification token has arrived: save the webhook URL in Notion's"
                " integration settings first"
                if not pending
                else f"{len(pending)} tokens arrived: give the one Notion accepted,"
                " `svp webhook-token --accept TOKEN`"
            )
        token = pending[0]
    elif token not in pending:
        raise WebhookTokenError("that token is not one that arrived (`svp webhook-token`)")

    def accept(doc: dict | None) -> tuple[dict, None]:
        doc = dict(doc or {})
        doc.update(verification_token=token, pending=[], updated_at=jobs.iso(time.time()))
        return doc, None

    runtime.state.update(SETTINGS, TOKEN_KEY, accept)
    log.info("webhook verification token accepted by the operator")
    return token


def signature_ok(token: str, body: bytes, header: str | None) -> bool:
    if not token or not header:
        return False
    expected = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


LinkEvent = Callable[[Runtime, dict[str, Any]], WebhookReply]


def handle(
    runtime: Runtime, headers: dict[str, str], body: bytes, link_event: LinkEvent
) -> WebhookReply:
    """Check and dedupe one request; a page event of a link goes to `link_event`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return WebhookReply(400, {"error": "body is not JSON"})
    if not isinstance(payload, dict):
        return WebhookReply(400, {"error": "body must be a JSON object"})

    if "verification_token" in payload and "x-notion-signature" not in lowered:
        return _verification(runtime, str(payload["verification_token"]))
    token = stored_token(runtime)
    if not token:
        log.warning("webhook event refused: no token to check its signature with")
        return WebhookReply(401, {"error": _no_token_reason(runtime)})
    if not signature_ok(token, body, lowered.get("x-notion-signature")):
        log.warning("webhook request with a missing or bad signature refused")
        return WebhookReply(401, {"error": "missing or invalid X-Notion-Signature"})

    event_id = str(payload.get("id") or "")
    if not event_id:
        return WebhookReply(400, {"error": "event without id"})
    now = time.time()
    seen = {
        "type": payload.get("type"),
        "received_at": jobs.iso(now),
        "expire_at": jobs.iso(now + EVENT_RETENTION_SECONDS),
    }
    if not runtime.state.create(EVENTS, event_id, seen):
        return WebhookReply(200, {"status": "duplicate"})
    if payload.get("type") not in LINK_EVENTS:
        return WebhookReply(200, {"status": "ignored"})
    return link_event(runtime, payload)


def _no_token_reason(runtime: Runtime) -> str:
    if runtime.settings.uses_gcp:
        return "the webhook is not configured: NOTION_WEBHOOK_TOKEN is not set"
    return (
        "the webhook is not verified yet: `svp webhook-token` shows the token Notion sent,"
        " `svp webhook-token --accept` trusts it"
    )


def _verification(runtime: Runtime, token: str) -> WebhookReply:
    """Keep the token as pending: anyone can send one, so it is never trusted from here."""
    if not token or len(token) > TOKEN_MAX_CHARS or not token.isprintable():
        return WebhookReply(400, {"error": "not a verification token"})
    now = jobs.iso(time.time())

    def keep(doc: dict | None) -> tuple[dict, None]:
        doc = dict(doc or {})
        earlier = [p for p in doc.get("pending") or [] if p.get("token") != token]
        doc["pending"] = [{"token": token, "received_at": now}, *earlier][:PENDING_KEPT]
        doc["updated_at"] = now
        return doc, None

    runtime.state.update(SETTINGS, TOKEN_KEY, keep)
    log.warning(
        "a webhook verification token arrived; it is not trusted until the operator"
        " sets it (`svp webhook-token` shows it)"
    )
    where = "NOTION_WEBHOOK_TOKEN" if runtime.settings.uses_gcp else "`svp webhook-token --accept`"
    return WebhookReply(200, {"status": f"verification token received, not trusted until {where}"})
