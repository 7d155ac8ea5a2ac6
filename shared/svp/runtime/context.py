"""The Runtime: the settings and the ports a stage talks through, nothing more.

Which adapter fills each port (SQLite or Firestore, a folder or Cloud Storage, the local queue
or Pub/Sub) is decided by svp.wiring. Each port is built on first use, so a function whose
stage never touches (say) the blob store never imports that store's client library.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from svp.config import Settings
from svp.messages import JobMessage
from svp.ports import BlobStore, Bus, DeadLetters, StateStore
from svp.topology import OUTPUT_TOPIC, topic_name


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        state: Callable[[], StateStore],
        blobs: Callable[[], BlobStore],
        bus: Callable[[], Bus],
        dead_letters: Callable[[], DeadLetters],
    ):
        self.settings = settings
        self._factories = {
            "state": state,
            "blobs": blobs,
            "bus": bus,
            "dead_letters": dead_letters,
        }

    @cached_property
    def state(self) -> StateStore:
        return self._factories["state"]()

    @cached_property
    def blobs(self) -> BlobStore:
        return self._factories["blobs"]()

    @cached_property
    def bus(self) -> Bus:
        return self._factories["bus"]()

    @cached_property
    def dead_letters(self) -> DeadLetters:
        return self._factories["dead_letters"]()

    def publish_from(self, stage: str, message: JobMessage) -> str:
        topic = topic_name(self.settings.topic_prefix, OUTPUT_TOPIC[stage])
        return self.bus.publish(topic, message.encode(), message.attributes())

    def artifact_key(self, job_id: str, stage: str, name: str, attempt: str = "") -> str:
        """Where a stage's artifact lives: per attempt, so that only the attempt whose fenced
        `complete` recorded it is ever read (the others expire with the bucket's lifecycle)."""
        return (
            f"jobs/{job_id}/{stage}/{attempt}/{name}"
            if attempt
            else f"jobs/{job_id}/{stage}/{name}"
        )
