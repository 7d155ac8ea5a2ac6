"""The Runtime: settings plus the three ports, built once per process for the chosen backend."""

from __future__ import annotations

import threading
import time
from functools import cached_property
from typing import TYPE_CHECKING

from svp.config import Settings
from svp.messages import JobMessage
from svp.ports import BlobStore, Bus, StateStore
from svp.topology import OUTPUT_TOPIC, SUBSCRIBERS, topic_name

if TYPE_CHECKING:
    from svp.notion.gateway import NotionGateway


USER_CLIENT_TTL_SECONDS = 300


class Runtime:
    """Settings plus the three ports. Each port is built on first use, so a function whose
    stage never touches (say) the blob store never imports that store's client library."""

    def __init__(
        self,
        settings: Settings,
        *,
        state: StateStore | None = None,
        blobs: BlobStore | None = None,
        bus: Bus | None = None,
    ):
        self.settings = settings
        self._user_gateways: dict[str, tuple[float, NotionGateway]] = {}
        self._users_lock = threading.Lock()
        # Injected ports (tests) shadow the lazily built ones.
        for name, port in (("state", state), ("blobs", blobs), ("bus", bus)):
            if port is not None:
                self.__dict__[name] = port

    @cached_property
    def state(self) -> StateStore:
        if self.settings.uses_gcp:
            from svp.adapters.firestore_state import FirestoreStateStore

            return FirestoreStateStore(self.settings.project, self.settings.firestore_database)
        from svp.adapters.sqlite_state import SqliteStateStore

        return SqliteStateStore(self.settings.data_dir / "state.db")

    @cached_property
    def blobs(self) -> BlobStore:
        if self.settings.uses_gcp:
            from svp.adapters.gcs_blobs import GcsBlobStore

            return GcsBlobStore(self.settings.bucket)
        from svp.adapters.local_blobs import LocalBlobStore

        return LocalBlobStore(self.settings.data_dir / "artifacts")

    @cached_property
    def bus(self) -> Bus:
        if self.settings.uses_gcp:
            from svp.adapters.pubsub_bus import PubSubBus

            return PubSubBus(self.settings.project)
        return local_queue(self.settings)

    def publish_from(self, stage: str, message: JobMessage) -> str:
        topic = topic_name(self.settings.topic_prefix, OUTPUT_TOPIC[stage])
        return self.bus.publish(topic, message.encode(), message.attributes())

    def artifact_key(self, job_id: str, stage: str, name: str) -> str:
        # Deterministic: a retried stage overwrites its own artifacts instead of adding more.
        return f"jobs/{job_id}/{stage}/{name}"

    def notion_for(self, user: str | None) -> NotionGateway | None:
        """The Notion client acting for `user` (their OAuth token), or the configured
        integration (NOTION_TOKEN) for the local user and jobs without one."""
        if not user or user == "local":
            return self.notion
        with self._users_lock:
            cached = self._user_gateways.get(user)
            # Expire: a warm instance must pick up a reconnected (new) token.
            if cached is None or time.monotonic() - cached[0] > USER_CLIENT_TTL_SECONDS:
                from svp.accounts import notion_token

                gateway = self._gateway(notion_token(self, user))
                cached = self._user_gateways[user] = (time.monotonic(), gateway)
            return cached[1]

    def forget_notion(self, user: str) -> None:
        """Drop a user's cached client (their token changed)."""
        with self._users_lock:
            self._user_gateways.pop(user, None)

    @cached_property
    def notion(self) -> NotionGateway | None:
        """The Notion client for this process, or None when no token is configured."""
        if not self.settings.notion_token:
            return None
        return self._gateway(self.settings.notion_token)

    def _gateway(self, token: str) -> NotionGateway:
        from svp.notion.gateway import NotionGateway

        return NotionGateway(
            token,
            self.settings.notion_base_url or None,
            self.settings.notion_requests_per_second,
            self.settings.notion_retry_seconds,
        )


def build_runtime(settings: Settings) -> Runtime:
    return Runtime(settings)


def local_queue(settings: Settings):
    from svp.adapters.local_queue import LocalQueue

    subscriptions = {
        topic_name(settings.topic_prefix, topic): stages for topic, stages in SUBSCRIBERS.items()
    }
    return LocalQueue(
        settings.data_dir / "queue.db",
        subscriptions,
        max_attempts=settings.max_deliveries,
        retry_min_seconds=settings.retry_min_seconds,
        retry_max_seconds=settings.retry_max_seconds,
    )
