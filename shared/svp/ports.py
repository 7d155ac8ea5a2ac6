"""The ports every stage talks through; each has a local and a Google Cloud adapter.

Adapters import their SDKs lazily so that a function only pays for the clients it uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

Doc = dict[str, Any]
# A transactional mutation: receives the current document (None when absent) and returns
# (new document or None to leave it unchanged, value handed back to the caller).
# It may run more than once (Firestore retries contended transactions), so it must be pure.
Mutation = Callable[[Doc | None], tuple[Doc | None, T]]


@dataclass(frozen=True)
class Span:
    """A range of one numeric top-level field, bounds included (None: unbounded). Documents
    whose field is absent, null or not a number are outside every span."""

    field: str
    low: float | None = None
    high: float | None = None


class StateStore(Protocol):
    """Documents in named collections, with atomic create and read-modify-write."""

    def create(self, collection: str, key: str, doc: Doc) -> bool:
        """Store `doc` only if `key` is absent. Returns False when it already existed."""

    def get(self, collection: str, key: str) -> Doc | None: ...

    def put(self, collection: str, key: str, doc: Doc) -> None: ...

    def delete(self, collection: str, key: str) -> None: ...

    def update(self, collection: str, key: str, mutation: Mutation[T]) -> T:
        """Run `mutation` inside a transaction that serializes writers of `key`."""

    def list(
        self,
        collection: str,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        span: Span | None = None,
    ) -> list[Doc]:
        """Documents whose top-level fields equal `where`, newest `updated_at` first; with
        `span`, only those whose `span.field` is a number within it, smallest first (an
        indexed range query: the reconciler reads only the jobs that are due)."""


class BlobStore(Protocol):
    """Artifacts addressed by URI (`gs://bucket/key` or `file:///abs/path`)."""

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> str: ...

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str: ...

    def get_bytes(self, uri: str) -> bytes: ...

    def download(self, uri: str, path: Path) -> None: ...

    def exists(self, uri: str) -> bool: ...


class Bus(Protocol):
    """Publishes a message to a topic and returns its id once the broker has confirmed it."""

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str: ...


@dataclass(frozen=True)
class Replayed:
    """A dead-lettered message published again (or, on a dry run, that would be)."""

    job_id: str
    stage: str
    attempts: int
    last_error: str
    message_id: str = ""


class DeadLetters(Protocol):
    """Messages a stage gave up on (or the broker dead-lettered), kept until replayed."""

    def job_ids(self) -> set[str] | None:
        """Jobs with a dead-lettered message; None where that is not cheap to know (Pub/Sub's
        dead-letter subscriptions can only be pulled)."""

    def replay(
        self,
        *,
        job_id: str | None = None,
        stage: str | None = None,
        limit: int | None = None,
        dry_run: bool = False,
    ) -> list[Replayed]:
        """Publish them again to their stage, one more replay each (the job reopens); a dead
        letter is removed only once its new copy is confirmed. A dry run only lists them."""


class Pushed(Protocol):
    """A message the local queue delivers: what the dispatcher needs of it."""

    subscription: str
    attempts: int
    attributes: dict[str, str]

    def push_envelope(self) -> dict[str, Any]: ...


class PushQueue(Protocol):
    """The delivery side of the local queue, with Pub/Sub push subscriptions' semantics."""

    def lease(self, limit: int, lease_seconds: float) -> list[Any]:
        """Up to `limit` due messages (Pushed), each counting as a delivery attempt."""

    def extend(self, messages: Sequence[Any], lease_seconds: float) -> None: ...

    def ack(self, message: Any) -> None: ...

    def nack(self, message: Any, error: str) -> bool:
        """Redeliver later with backoff; True when that was the last delivery (dead-lettered)."""

    def dead_letter(self, message: Any, error: str) -> None: ...

    def next_due_in(self) -> float | None: ...
