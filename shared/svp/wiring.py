"""Assembly: which adapter fills each port, and the pieces the entry points run.

The one module that knows every layer. The entry points (svp.cli, svp.functions, svp.api)
ask it for a Runtime and for the stage runners; below it each layer imports only the layers
beneath it (README, "Layers").
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from svp.config import Settings
from svp.ports import BlobStore, Bus, DeadLetters, StateStore
from svp.runtime.context import Runtime
from svp.runtime.dispatch import Dispatcher, Runners
from svp.runtime.runner import StageWork
from svp.topology import SUBSCRIBERS, topic_name


def build_runtime(settings: Settings) -> Runtime:
    """The Runtime of the configured backend; each adapter is built on first use."""
    if settings.uses_gcp:
        return Runtime(
            settings,
            state=lambda: _firestore(settings),
            blobs=lambda: _cloud_storage(settings),
            bus=lambda: _pubsub(settings),
            dead_letters=lambda: _pubsub_dead_letters(settings),
        )
    queue = cache(lambda: _local_queue(settings))
    return Runtime(
        settings,
        state=lambda: _sqlite(settings),
        blobs=lambda: _folder(settings),
        bus=queue,
        dead_letters=lambda: _local_dead_letters(queue()),
    )


def runners(runtime: Runtime, works: Mapping[str, StageWork] | None = None) -> Runners:
    """A StageRunner per stage, showing each job's status in Notion. `works` replaces the
    stages' own work (tests, benchmarks)."""
    from svp.stages import load_work
    from svp.stages.status import link_status

    chosen = dict(works or {})
    status = link_status(runtime)

    def load(stage: str) -> StageWork:
        return chosen.get(stage) or load_work(stage)

    return Runners(runtime, load, status)


def dispatcher(
    runtime: Runtime,
    works: Mapping[str, StageWork] | None = None,
    concurrency: int | None = None,
) -> Dispatcher:
    """The local queue's delivery to this process's stage runners (Pub/Sub push, locally)."""
    return Dispatcher(
        runtime.bus,  # the LocalQueue: local backend only
        runners(runtime, works),
        concurrency=concurrency or runtime.settings.concurrency,
        lease=runtime.settings.lease_seconds,
    )


# -- adapters ------------------------------------------------------------------------------------
def _firestore(settings: Settings) -> StateStore:
    from svp.adapters.firestore_state import FirestoreStateStore

    return FirestoreStateStore(settings.project, settings.firestore_database)


def _cloud_storage(settings: Settings) -> BlobStore:
    from svp.adapters.gcs_blobs import GcsBlobStore

    return GcsBlobStore(settings.bucket)


def _pubsub(settings: Settings) -> Bus:
    from svp.adapters.pubsub_bus import PubSubBus

    return PubSubBus(settings.project)


def _pubsub_dead_letters(settings: Settings) -> DeadLetters:
    from svp.adapters.pubsub_bus import PubSubBus
    from svp.adapters.pubsub_dead_letters import PubSubDeadLetters

    return PubSubDeadLetters(PubSubBus(settings.project), settings.topic_prefix)


def _sqlite(settings: Settings) -> StateStore:
    from svp.adapters.sqlite_state import SqliteStateStore

    return SqliteStateStore(settings.data_dir / "state.db")


def _folder(settings: Settings) -> BlobStore:
    from svp.adapters.local_blobs import LocalBlobStore

    return LocalBlobStore(settings.data_dir / "artifacts")


def _local_queue(settings: Settings):
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


def _local_dead_letters(queue) -> DeadLetters:
    from svp.adapters.local_dead_letters import LocalDeadLetters

    return LocalDeadLetters(queue)
