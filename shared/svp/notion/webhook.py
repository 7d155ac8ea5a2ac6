"""Notion's integration webhooks: a real-time trigger, with polling as the backstop.

Notion first POSTs `{"verification_token": ...}`; the operator pastes that token into the
integration's settings to confirm the endpoint. Notion signs every request, that one included
(https://developers.notion.com/reference/webhooks#step-3-validating-event-payloads-recommended):
`X-Notion-Signature: sha256=<HMAC-SHA256 of the raw body, keyed by the token>`, so the
handshake is recognized by its body, never by a missing signature. Each event carries the
signed `timestamp` of when it happened: one outside EVENT_WINDOW_SECONDS is refused, so a
captured event cannot be replayed once its id is forgotten (ids are kept longer than the
window). Events are
signals only (they may come late, twice or never): the caller's `link_event` fetches the page
and queues it through the poller's own path, which claims each link once
(svp.stages.webhook).

Whoever reaches the public endpoint can send a "verification token" too, so an unsigned
request never sets the token events are checked with:
- on Google Cloud (SVP_BACKEND=gcp) that token is NOTION_WEBHOOK_TOKEN (Secret Manager) and
  nothing else; without it every event is refused;
- locally, NOTION_WEBHOOK_TOKEN, or a received token the operator accepted with
  `svp webhook-token --accept`.
Received tokens are kept as pending (the first few, with the time they came, for an hour) so
the operator can read them with `svp webhook-token`, on either backend, and never trusted on
their own. First come, first kept: a flood of posts cannot push Notion's token out; once
PENDING_KEPT are waiting, later ones are answered 429 until the oldest expires (Notion's
Webhooks tab can send its token again). `--accept TOKEN` needs the token's value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from svp.runtime import jobs
from svp.runtime.context import Runtime

log = logging.getLogger("svp.webhook")
EVENTS = "webhook_events"
SETTINGS = "settings"
TOKEN_KEY = "notion_webhook"
PENDING_KEPT = 5  # received tokens listed for the operator; later arrivals wait their turn
PENDING_TTL_SECONDS = 3600  # a pending token nobody accepted within the hour is forgotten
TOKEN_MAX_CHARS = 512
# Events that can bring a row into a Link Database, or make it pending: a row restored from
# the trash or moved in counts as much as a new one.
LINK_EVENTS = ("page.created", "page.properties_updated", "page.undeleted", "page.moved")
# Events are refused when their signed timestamp is further than this from now (either way):
# a late delivery is left to polling, a replayed one is refused.
EVENT_WINDOW_SECONDS = 10 * 60
# Event ids are remembered longer than the window, so no event inside it is processed twice.
EVENT_RETENTION_SECONDS = 24 * 3600


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
    return _live(saved.get("pending") or [], time.time())[::-1]


def _live(pending: list[dict], now: float) -> list[dict]:
    """Pending tokens still waiting (oldest first)."""
    return [p for p in pending if _seconds(p.get("received_at")) > now - PENDING_TTL_SECONDS]


def _seconds(stamp: Any) -> float:
    """An ISO timestamp (Notion's `2024-12-05T23:57:05.379Z`) as epoch seconds; nan if not."""
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("nan")


def accept_token(runtime: Runtime, token: str) -> str:
    """Trust `token`, a pending one, for events, locally (the operator gives its value, as
    Notion's Webhooks tab shows it: nothing is trusted for lack of an alternative)."""
    if runtime.settings.uses_gcp:
        raise WebhookTokenError(
            "on Google Cloud the webhook token is NOTION_WEBHOOK_TOKEN, in Secret Manager:"
            " run `svp cloud webhook-token --accept TOKEN` (used within a minute)"
        )
    pending = [p["token"] for p in pending_tokens(runtime)]
    if not token:
        raise WebhookTokenError(
            "give the token Notion accepted: `svp webhook-token --accept TOKEN` (copy it"
            " from the integration's Webhooks tab)"
        )
    if token not in pending:
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

    if "verification_token" in payload and "type" not in payload:  # the handshake, signed or not
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
    happened = _seconds(payload.get("timestamp"))
    if happened != happened:  # nan: no timestamp, or not one
        return WebhookReply(400, {"error": "event without a valid timestamp"})
    if abs(happened - now) > EVENT_WINDOW_SECONDS:
        # Refused, not processed: a replay, or a delivery so late polling has it already.
        # A 2xx, so that Notion stops retrying an event that will never be taken.
        log.warning("webhook event %s refused: its timestamp is outside the window", event_id)
        reason = f"event timestamp not within {EVENT_WINDOW_SECONDS} s of now: left to polling"
        return WebhookReply(200, {"status": "expired", "reason": reason})
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
        " `svp webhook-token --accept TOKEN` trusts it"
    )


def _verification(runtime: Runtime, token: str) -> WebhookReply:
    """Keep the token as pending: anyone can send one, so it is never trusted from here."""
    if not token or len(token) > TOKEN_MAX_CHARS or not token.isprintable():
        return WebhookReply(400, {"error": "not a verification token"})
    now = time.time()

    def keep(doc: dict | None) -> tuple[dict, bool]:
        doc = dict(doc or {})
        waiting = _live(doc.get("pending") or [], now)  # oldest first
        if any(p.get("token") == token for p in waiting):
            return doc, True
        if len(waiting) >= PENDING_KEPT:  # first come, first kept: no eviction
            return doc, False
        doc["pending"] = [*waiting, {"token": token, "received_at": jobs.iso(now)}]
        doc["updated_at"] = jobs.iso(now)
        return doc, True

    if not runtime.state.update(SETTINGS, TOKEN_KEY, keep):
        log.warning("a webhook verification token was refused: %d are waiting", PENDING_KEPT)
        return WebhookReply(
            429,
            {"error": "too many verification tokens are waiting: try again later"},
        )
    log.warning(
        "a webhook verification token arrived; it is not trusted until the operator"
        " sets it (`svp webhook-token` shows it)"
    )
    where = "NOTION_WEBHOOK_TOKEN" if runtime.settings.uses_gcp else "`svp webhook-token --accept`"
    return WebhookReply(200, {"status": f"verification token received, not trusted until {where}"})
