"""`DeadLetters` on Pub/Sub: each stage's dead-letter pull subscription (terraform/modules/stage).

A replay pulls a stage's dead letters, publishes each to the stage's input topic, then acks
it: the ack comes only after Pub/Sub confirmed the publish, so a crash in between replays a
message twice (harmless: stages are idempotent) but never loses one. Messages skipped by the
filters, unreadable ones and those shown by a dry run are released, not acked.
"""

from __future__ import annotations

from svp.adapters.pubsub_bus import PubSubBus, ReceivedMessage
from svp.messages import BadMessage, revived
from svp.ports import Replayed
from svp.topology import INPUT_TOPIC, PIPELINE, dead_letter_subscription, topic_name

PULL_BATCH = 100


class PubSubDeadLetters:
    def __init__(self, bus: PubSubBus, prefix: str):
        self.bus = bus
        self.prefix = prefix

    def job_ids(self) -> None:
        return None  # only a pull would tell, and pulling changes delivery counts

    def replay(
        self,
        *,
        job_id: str | None = None,
        stage: str | None = None,
        limit: int | None = None,
        dry_run: bool = False,
    ) -> list[Replayed]:
        replayed: list[Replayed] = []
        for name in [stage] if stage else PIPELINE:
            left = None if limit is None else limit - len(replayed)
            if left == 0:
                break
            replayed += self._replay_stage(name, job_id, left, dry_run)
        return replayed

    def _replay_stage(
        self, stage: str, job_id: str | None, limit: int | None, dry_run: bool
    ) -> list[Replayed]:
        subscription = dead_letter_subscription(self.prefix, stage)
        topic = topic_name(self.prefix, INPUT_TOPIC[stage])
        replayed: list[Replayed] = []
        seen: set[str] = set()
        kept: list[str] = []  # ack ids to release at the end (releasing now would re-pull them)
        try:
            while limit is None or len(replayed) < limit:
                pulled = [
                    m
                    for m in self.bus.pull_dead_letters(subscription, PULL_BATCH)
                    if m.message_id not in seen
                ]
                if not pulled:
                    break
                for message in pulled:
                    seen.add(message.message_id)
                    wanted = not job_id or message.attributes.get("job_id") == job_id
                    if not wanted or (limit is not None and len(replayed) >= limit):
                        kept.append(message.ack_id)
                        continue
                    item = self._replay_one(subscription, topic, stage, message, dry_run)
                    if item is None or dry_run:
                        kept.append(message.ack_id)
                    if item is not None:
                        replayed.append(item)
        finally:
            if kept:
                self.bus.release(subscription, kept)
        return replayed

    def _replay_one(
        self, subscription: str, topic: str, stage: str, message: ReceivedMessage, dry_run: bool
    ) -> Replayed | None:
        attempts = int(message.attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", 0))
        job = message.attributes.get("job_id", "?")
        error = message.attributes.get("svp_error", "")
        if dry_run:
            return Replayed(job, stage, attempts, error)
        try:
            data, attributes = revived(message.data, message.attributes)
        except BadMessage:
            return None  # left in the dead-letter subscription for a person to look at
        message_id = self.bus.publish(topic, data, attributes)
        self.bus.ack(subscription, [message.ack_id])
        return Replayed(job, stage, attempts, error, message_id)
