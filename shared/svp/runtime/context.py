"""The Runtime: settings plus the three ports, built once per process for the chosen backend."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from svp.config import Settings
from svp.messages import JobMessage
from svp.ports import BlobStore, Bus, StateStore
from svp.topology import OUTPUT_TOPIC, SUBSCRIBERS, topic_name

if TYPE_CHECKING:
    from svp.notion.gateway import NotionGateway


@dataclass
class Runtime:
    settings: Settings
    state: StateStore
    blobs: BlobStore
    bus: Bus
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def publish_from(self, stage: str, message: JobMessage) -> str:
        topic = topic_name(self.settings.topic_prefix, OUTPUT_TOPIC[stage])
        return self.bus.publish(topic, message.encode(), message.attributes())

    def artifact_key(self, job_id: str, stage: str, name: str) -> str:
        # Deterministic: a retried stage overwrites its own artifacts instead of adding more.
        return f"jobs/{job_id}/{stage}/{name}"

    @cached_property
    def notion(self) -> NotionGateway | None:
        """The Notion client for this process, or None when no token is configured."""
        if not self.settings.notion_token:
            return None
        from svp.notion.gateway import NotionGateway

        return NotionGateway(self.settings.notion_token, self.settings.notion_base_url or None)


def build_runtime(settings: Settings) -> Runtime:
    if settings.uses_gcp:
        from svp.adapters.firestore_state import FirestoreStateStore
        from svp.adapters.gcs_blobs import GcsBlobStore
        from svp.adapters.pubsub_bus import PubSubBus

        return Runtime(
            settings,
            FirestoreStateStore(settings.project, settings.firestore_database),
            GcsBlobStore(settings.bucket),
            PubSubBus(settings.project),
        )
    return Runtime(settings, local_state(settings), local_blobs(settings), local_queue(settings))


def local_state(settings: Settings) -> StateStore:
    from svp.adapters.sqlite_state import SqliteStateStore

    return SqliteStateStore(settings.data_dir / "state.db")


def local_blobs(settings: Settings) -> BlobStore:
    from svp.adapters.local_blobs import LocalBlobStore

    return LocalBlobStore(settings.data_dir / "artifacts")


def local_queue(settings: Settings):
    from svp.adapters.local_queue import LocalQueue

    subscriptions = {
        topic_name(settings.topic_prefix, topic): stages for topic, stages in SUBSCRIBERS.items()
    }
    return LocalQueue(
        settings.data_dir / "queue.db",
        subscriptions,
        max_attempts=settings.max_attempts,
        retry_min_seconds=settings.retry_min_seconds,
        retry_max_seconds=settings.retry_max_seconds,
    )
