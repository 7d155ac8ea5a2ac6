"""`Bus` on Cloud Pub/Sub, plus the synchronous pull used to replay dead letters.

One PublisherClient and one SubscriberClient per process, created lazily under a lock (creating
publishers concurrently can hang). Topics are `projects/{project}/topics/{topic}`.
Subscriptions are named as given: a full `projects/.../subscriptions/...` path, or a short name
in `project` (the topic prefix is not applied to them).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc

PUBLISH_TIMEOUT_S = 60.0
PULL_TIMEOUT_S = 30.0

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _shared(kind: str) -> Any:
    with _lock:
        if kind not in _clients:
            from google.cloud import pubsub_v1

            factory = pubsub_v1.PublisherClient if kind == "pub" else pubsub_v1.SubscriberClient
            _clients[kind] = factory()
        return _clients[kind]


@dataclass(frozen=True)
class ReceivedMessage:
    ack_id: str
    message_id: str
    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    publish_time: datetime | None = None  # timezone-aware UTC


class PubSubBus:
    def __init__(
        self,
        project: str,
        publisher: Any = None,
        subscriber: Any = None,
    ):
        self.project = project
        self._publisher = publisher
        self._subscriber = subscriber

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"

    def subscription_path(self, subscription: str) -> str:
        if subscription.startswith("projects/"):
            return subscription
        return f"projects/{self.project}/subscriptions/{subscription}"

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
        publisher = self._publisher or _shared("pub")
        future = publisher.publish(self.topic_path(topic), data, **dict(attributes))
        return future.result(timeout=PUBLISH_TIMEOUT_S)

    def pull_dead_letters(self, subscription: str, max_messages: int) -> list[ReceivedMessage]:
        """Pull up to `max_messages` without acking them; an empty list when none is waiting."""
        subscriber = self._subscriber or _shared("sub")
        try:
            response = subscriber.pull(
                request={
                    "subscription": self.subscription_path(subscription),
                    "max_messages": max_messages,
                },
                timeout=PULL_TIMEOUT_S,
            )
        except gexc.DeadlineExceeded:
            return []
        return [
            ReceivedMessage(
                ack_id=rm.ack_id,
                message_id=rm.message.message_id,
                data=bytes(rm.message.data),
                attributes=dict(rm.message.attributes),
                publish_time=_utc(rm.message.publish_time),
            )
            for rm in response.received_messages
        ]

    def ack(self, subscription: str, ack_ids: list[str]) -> None:
        subscriber = self._subscriber or _shared("sub")
        ids = list(ack_ids)
        for i in range(0, len(ids), 1000):  # the API caps the request size
            subscriber.acknowledge(
                request={
                    "subscription": self.subscription_path(subscription),
                    "ack_ids": ids[i : i + 1000],
                }
            )

    def release(self, subscription: str, ack_ids: list[str]) -> None:
        """Nack: make pulled messages available again at once (ack deadline 0)."""
        subscriber = self._subscriber or _shared("sub")
        ids = list(ack_ids)
        for i in range(0, len(ids), 1000):
            subscriber.modify_ack_deadline(
                request={
                    "subscription": self.subscription_path(subscription),
                    "ack_ids": ids[i : i + 1000],
                    "ack_deadline_seconds": 0,
                }
            )


def _utc(ts: Any) -> datetime | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts.timestamp(), tz=UTC)
