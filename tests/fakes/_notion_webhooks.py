"""Notion's webhook requests, as Notion sends them to a subscription's endpoint.

- Every request is signed, the handshake included: `X-Notion-Signature: sha256=<hex
  HMAC-SHA256 of the raw body keyed by the verification token>`
  (https://developers.notion.com/reference/webhooks#step-3-validating-event-payloads-recommended;
  notion-sdk-js's signature helpers sign the verification request the same way).
- The handshake's body is `{"verification_token": "secret_..."}`
  (https://developers.notion.com/reference/webhooks#step-2-verifying-the-subscription).
- An event carries `id`, `timestamp` (when it happened, ISO 8601 with milliseconds),
  `workspace_id`, `subscription_id`, `integration_id`, `type`, `authors` (`{id, type}`,
  type `person`, `bot` or `agent`), `attempt_number`, `entity` and `data`
  (https://developers.notion.com/reference/webhooks-events-delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any


def sign(token: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Notion-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def handshake(token: str | None = None) -> tuple[str, dict[str, str], bytes]:
    """(token, headers, body) of the verification request, signed with its own token."""
    token = token or "secret_" + secrets.token_urlsafe(32)
    body = json.dumps({"verification_token": token}).encode()
    return token, sign(token, body), body


def event(
    token: str,
    kind: str,
    page_id: str,
    parent_id: str,
    *,
    authors: list[dict[str, str]] | None = None,
    at: datetime | None = None,
    event_id: str | None = None,
    parent_type: str = "database",
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a signed page event."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    payload: dict[str, Any] = {
        "id": event_id or str(uuid.uuid4()),
        "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "workspace_id": str(uuid.uuid4()),
        "workspace_name": "FakeNotion",
        "subscription_id": str(uuid.uuid4()),
        "integration_id": str(uuid.uuid4()),
        "type": kind,
        "authors": authors or [{"id": str(uuid.uuid4()), "type": "person"}],
        "attempt_number": 1,
        "api_version": "2025-09-03",
        "entity": {"id": page_id, "type": "page"},
        "data": {"parent": {"id": parent_id, "type": parent_type}},
    }
    body = json.dumps(payload).encode()
    return sign(token, body), body
