"""Admission: the pipeline takes only as many links as its functions can run at once.

On Google Cloud each stage's push subscription delivers a message the moment it is published;
a function at its instance limit refuses it (429) and Pub/Sub retries it with back-off, up to
its last delivery, after which the message is dead-lettered without its code ever having run.
So the queue is not Pub/Sub's retries but Notion: the poller admits a new link only while
fewer than limits.json's `admission.in_flight` jobs are at work (no stage then sees more
messages than it has instances), and leaves the rest `pending`, showing each its place
("waiting: 37 ahead").
The arithmetic is in limits.json and terraform/README.md (Sizing: a burst of links).

Jobs at work are counted by one indexed range query (`active_until >= now`, svp.runtime.jobs)
that reads at most `in_flight` documents.
"""

from __future__ import annotations

import threading
import time

from svp import limits
from svp.ports import Span, StateStore
from svp.runtime import jobs


class Room:
    """Places left in the pipeline for this poll, shared by the threads polling each Link
    Database. `capacity` None: no limit (the local queue pulls at its own pace)."""

    def __init__(self, state: StateStore, capacity: int | None, now: float | None = None):
        self.capacity = capacity
        self.left: int | None = None
        if capacity is not None:
            now = time.time() if now is None else now
            at_work = state.list(jobs.JOBS, span=Span("active_until", now, None), limit=capacity)
            self.left = capacity - len(at_work)
        self.held = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """A place for one link: None when it may go in now, else how many links wait ahead
        of it (it stays pending until the next poll)."""
        with self._lock:
            if self.left is None or self.left > 0:
                if self.left is not None:
                    self.left -= 1
                return None
            self.held += 1
            return self.held - 1


def capacity(on_gcp: bool) -> int | None:
    """Links at work at once: on Google Cloud the sizing table's; locally no limit."""
    return int(limits.table()["admission"]["in_flight"]) if on_gcp else None


def waiting_note(ahead: int) -> str:
    return f"waiting: {ahead} ahead" if ahead else "waiting: next in line"


# The place last shown on each held link's row, so that a row is rewritten only when its
# place changed (Notion's rate limit is shared by everything); deleted by Firestore's TTL.
PLACES = "places"
PLACE_RETENTION_SECONDS = 7 * 24 * 3600
# Rows further back than this get their place once, then again when they come this close:
# their shown place can only be behind the truth.
SHOWN_PLACES = 20


def place_to_show(state: StateStore, job_id: str, ahead: int, now: float) -> str | None:
    """The note to write on a held link's row, or None when the row shows what it should."""
    note = waiting_note(ahead)

    def record(doc: jobs.Doc | None):
        if doc is not None and (doc.get("note") == note or ahead >= SHOWN_PLACES):
            return None, None
        expire = jobs.iso(now + PLACE_RETENTION_SECONDS)
        return {"note": note, "updated_at": jobs.iso(now), "expire_at": expire}, note

    return state.update(PLACES, job_id, record)
