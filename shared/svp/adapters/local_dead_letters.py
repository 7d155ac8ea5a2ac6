"""`DeadLetters` on the local queue's dead-letter table."""

from __future__ import annotations

from svp.adapters.local_queue import LocalQueue
from svp.messages import BadMessage, revived
from svp.ports import Replayed


class LocalDeadLetters:
    def __init__(self, queue: LocalQueue):
        self.queue = queue

    def job_ids(self) -> set[str]:
        return {d.attributes.get("job_id", "") for d in self.queue.dead_letters()}

    def replay(
        self,
        *,
        job_id: str | None = None,
        stage: str | None = None,
        limit: int | None = None,
        dry_run: bool = False,
    ) -> list[Replayed]:
        replayed: list[Replayed] = []
        for dead in self.queue.dead_letters(stage):
            if job_id and dead.attributes.get("job_id") != job_id:
                continue
            if limit is not None and len(replayed) >= limit:
                break
            found = dead.attributes.get("job_id", "?")
            error = dead.last_error or ""
            if dry_run:
                replayed.append(Replayed(found, dead.subscription, dead.attempts, error))
                continue
            try:
                data, attributes = revived(dead.data, dead.attributes)
            except BadMessage:
                continue  # unreadable: left in the dead-letter table for a person to look at
            message_id = self.queue.requeue_dead_letter(dead, data, attributes)
            replayed.append(Replayed(found, dead.subscription, dead.attempts, error, message_id))
        return replayed
