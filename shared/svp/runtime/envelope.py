"""Turn what arrives over HTTP into a Delivery: a Pub/Sub push envelope or a CloudEvent.

Three shapes reach a stage: Pub/Sub's raw push envelope (the only one that keeps
`deliveryAttempt`), a binary-mode CloudEvent (Eventarc: `ce-*` headers, envelope as body) and a
structured CloudEvent (`application/cloudevents+json`, envelope under `data`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from svp.messages import BadMessage, JobMessage


@dataclass(frozen=True)
class Delivery:
    message: JobMessage
    message_id: str
    attempt: int | None
    subscription: str
    attributes: Mapping[str, str]


def parse_delivery(headers: Mapping[str, str], body: bytes) -> Delivery:
    data, message, envelope, event_id = _unwrap(headers, body)
    attempt = envelope.get("deliveryAttempt")
    return Delivery(
        message=JobMessage.decode(data),
        message_id=str(message.get("messageId") or message.get("message_id") or event_id),
        attempt=int(attempt) if attempt is not None else None,
        subscription=str(envelope.get("subscription", "")),
        attributes=dict(message.get("attributes") or {}),
    )


def raw_message(headers: Mapping[str, str], body: bytes) -> tuple[bytes, dict[str, str]]:
    """The Pub/Sub message's data and attributes, as published."""
    data, message, _, _ = _unwrap(headers, body)
    return data, dict(message.get("attributes") or {})


def _unwrap(headers: Mapping[str, str], body: bytes) -> tuple[bytes, dict, dict, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        payload: Any = json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadMessage("request body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadMessage("request body must be a JSON object")

    if lowered.get("content-type", "").startswith("application/cloudevents+json"):
        envelope = payload.get("data")
        event_id = payload.get("id", "")
    else:
        envelope = payload
        event_id = lowered.get("ce-id", "")
    if not isinstance(envelope, dict) or not isinstance(envelope.get("message"), dict):
        raise BadMessage("expected a Pub/Sub push envelope or CloudEvent with a 'message' object")

    message = envelope["message"]
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, TypeError):
        raise BadMessage("message.data is not valid base64") from None
    return data, message, envelope, event_id
