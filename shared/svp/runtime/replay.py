"""Bring dead-lettered messages back: the job reopens and its stage runs again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from svp.messages import BadMessage, JobMessage
from svp.topology import INPUT_TOPIC, dead_letter_subscription, topic_name

if TYPE_CHECKING:
    from svp.adapters.local_queue import LocalQueue
    from svp.adapters.pubsub_bus import PubSubBus

DEAD_LETTER_ATTRIBUTES = (
    "CloudPubSubDeadLetterSourceDeliveryCount",
    "CloudPubSubDeadLetterSourceSubscription",
    "CloudPubSubDeadLetterSourceSubscriptionProject",
    "CloudPubSubDeadLetterSourceTopicPublishTime",
)


@dataclass(frozen=True)
class Replayed:
    job_id: str
    stage: str
    attempts: int
    last_error: str
    message_id: str = ""


def revived(data: bytes, attributes: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The message to publish again: one more replay, without the dead-letter attributes."""
    message = JobMessage.decode(data)
    again = JobMessage(message.job_id, message.source, message.artifacts, message.replays + 1)
    kept = {k: v for k, v in attributes.items() if k not in DEAD_LETTER_ATTRIBUTES}
    return again.encode(), {**kept, **again.attributes()}


def replay_local(
    queue: LocalQueue,
    *,
    job_id: str | None = None,
    stage: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> list[Replayed]:
    replayed: list[Replayed] = []
    for dead in queue.dead_letters(stage):
        if job_id and dead.attributes.get("job_id") != job_id:
            continue
        if limit is not None and len(replayed) >= limit:
            break
        item = Replayed(
            dead.attributes.get("job_id", "?"),
            dead.subscription,
            dead.attempts,
            dead.last_error or "",
        )
        if not dry_run:
            try:
                data, attributes = revived(dead.data, dead.attributes)
            except BadMessage:
                continue  # unreadable: left in the dead-letter store for a person to look at
            item = Replayed(
                item.job_id,
                item.stage,
                item.attempts,
                item.last_error,
                queue.requeue_dead_letter(dead, data, attributes),
            )
        replayed.append(item)
    return replayed


def replay_pubsub(
    bus: PubSubBus,
    prefix: str,
    stage: str,
    *,
    job_id: str | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> list[Replayed]:
    """Pull a stage's dead letters, re-publish each to the stage's topic, then ack it.

    The ack comes only after Pub/Sub confirmed the publish, so a crash in between replays a
    message twice (harmless: stages are idempotent) but never loses one. Messages skipped by
    the filters, unreadable ones and those shown by a dry run are released, not acked.
    """
    subscription = dead_letter_subscription(prefix, stage)
    topic = topic_name(prefix, INPUT_TOPIC[stage])
    replayed: list[Replayed] = []
    seen: set[str] = set()
    kept: list[str] = []  # ack ids to release at the end (releasing now would re-pull them)
    try:
        while limit is None or len(replayed) < limit:
            pulled = [
                m for m in bus.pull_dead_letters(subscription, 100) if m.message_id not in seen
            ]
            if not pulled:
                break
            for message in pulled:
                seen.add(message.message_id)
                wanted = not job_id or message.attributes.get("job_id") == job_id
                if not wanted or (limit is not None and len(replayed) >= limit):
                    kept.append(message.ack_id)
                    continue
                item = _replay_one(bus, subscription, topic, stage, message, dry_run)
                if item is None or dry_run:
                    kept.append(message.ack_id)
                if item is not None:
                    replayed.append(item)
    finally:
        if kept:
            bus.release(subscription, kept)
    return replayed


def _replay_one(bus, subscription: str, topic: str, stage: str, message, dry_run: bool):
    attempts = int(message.attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", 0))
    job = message.attributes.get("job_id", "?")
    if dry_run:
        return Replayed(job, stage, attempts, "")
    try:
        data, attributes = revived(message.data, message.attributes)
    except BadMessage:
        return None  # left in the dead-letter subscription for a person to look at
    message_id = bus.publish(topic, data, attributes)
    bus.ack(subscription, [message.ack_id])
    return Replayed(job, stage, attempts, "", message_id)
