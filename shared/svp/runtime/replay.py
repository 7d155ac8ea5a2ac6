"""Bring dead-lettered messages back: the job reopens and its stage runs again."""

from __future__ import annotations

from dataclasses import dataclass

from svp.adapters.local_queue import LocalQueue
from svp.messages import BadMessage, JobMessage

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
