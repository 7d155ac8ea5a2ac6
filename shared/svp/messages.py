"""The message contract between stages: small versioned JSON, ids and URIs only, never media.

Pub/Sub caps a message at 10 MB; media and long text travel as artifacts in the blob store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VERSION = 1


class BadMessage(ValueError):
    """A message that can never be processed: acked and logged, never retried."""


@dataclass(frozen=True)
class JobMessage:
    job_id: str
    # The stage that published this message: the next stages react to its completion.
    source: str
    artifacts: dict[str, str] = field(default_factory=dict)
    replays: int = 0
    v: int = VERSION

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": self.v,
                "job_id": self.job_id,
                "source": self.source,
                "artifacts": self.artifacts,
                "replays": self.replays,
            },
            separators=(",", ":"),
        ).encode()

    def attributes(self) -> dict[str, str]:
        # The business idempotency key: a re-publish gets a new messageId, not a new key.
        return {
            "job_id": self.job_id,
            "source": self.source,
            "idempotency_key": f"{self.job_id}:{self.source}",
            "replays": str(self.replays),
        }

    @classmethod
    def decode(cls, data: bytes) -> JobMessage:
        try:
            body: Any = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadMessage(f"message data is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadMessage("message data must be a JSON object")
        if body.get("v") != VERSION:
            raise BadMessage(f"unsupported message version {body.get('v')!r} (expected {VERSION})")
        job_id, source = body.get("job_id"), body.get("source")
        if not isinstance(job_id, str) or not job_id or not isinstance(source, str):
            raise BadMessage("message needs string fields job_id and source")
        artifacts = body.get("artifacts") or {}
        if not isinstance(artifacts, dict):
            raise BadMessage("message field artifacts must be an object")
        return cls(job_id, source, dict(artifacts), int(body.get("replays") or 0))


# Attributes Pub/Sub adds to a dead-lettered message, and the error a stage that gave up on it
# adds: a replayed message goes out without them.
DEAD_LETTER_ATTRIBUTES = (
    "CloudPubSubDeadLetterSourceDeliveryCount",
    "CloudPubSubDeadLetterSourceSubscription",
    "CloudPubSubDeadLetterSourceSubscriptionProject",
    "CloudPubSubDeadLetterSourceTopicPublishTime",
    "svp_error",
)


def revived(data: bytes, attributes: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """A dead letter's message to publish again: one more replay (so the failed job reopens),
    without the dead-letter attributes. Raises BadMessage for an unreadable one."""
    message = JobMessage.decode(data)
    again = JobMessage(message.job_id, message.source, message.artifacts, message.replays + 1)
    kept = {k: v for k, v in attributes.items() if k not in DEAD_LETTER_ATTRIBUTES}
    return again.encode(), {**kept, **again.attributes()}
