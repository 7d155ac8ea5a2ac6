"""Notion's rate limit is per integration (about 3 requests/s on average), not per process:
https://developers.notion.com/reference/request-limits#rate-limits

Two parts keep several instances of the functions within it:
- each process spaces its own requests (svp.notion.ratelimit, SVP_NOTION_RPS); on Google
  Cloud, where several instances serve one integration, that setting is the share of one
  instance (3 divided by the instances that call Notion at once): the steady rate is not
  counted across instances, as that would cost a state-store transaction per request;
- a 429's Retry-After is honoured by every instance: the instance that got it writes the time
  until which Notion asked to wait to the state store, and every gateway of that token reads
  it (at most once per CHECK_SECONDS) before its requests and waits it out. One 429 stops the
  whole integration's traffic for the time Notion asked, instead of each instance finding out
  by its own 429.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from svp.ports import StateStore

log = logging.getLogger("svp.notion")
COLLECTION = "notion_rate"
CHECK_SECONDS = 1.0  # how often a gateway reads the shared pause
LONGEST_PAUSE_SECONDS = 60.0  # a pause written by a confused peer never blocks longer


class SharedPause:
    """The integration's `Retry-After`, shared by every process through the state store."""

    def __init__(
        self,
        state: StateStore,
        token: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.state = state
        self.key = hashlib.sha256(token.encode()).hexdigest()  # never the token itself
        self.clock = clock
        self.sleep = sleep
        self._until = 0.0
        self._read_at = -CHECK_SECONDS
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Wait out a pause any instance recorded; returns the seconds waited."""
        now = self.clock()
        with self._lock:
            if now - self._read_at >= CHECK_SECONDS:
                self._read_at = now
                try:
                    doc = self.state.get(COLLECTION, self.key) or {}
                    self._until = max(self._until, float(doc.get("until") or 0))
                except Exception as exc:  # noqa: BLE001 - the store's trouble must not stop Notion calls
                    log.warning("could not read Notion's shared pause: %s", exc)
            wait = min(self._until - now, LONGEST_PAUSE_SECONDS)
        if wait > 0:
            self.sleep(wait)
            return wait
        return 0.0

    def pause(self, seconds: float) -> None:
        """Notion answered 429: every instance waits `seconds` from now."""
        until = self.clock() + min(max(seconds, 0.0), LONGEST_PAUSE_SECONDS)
        with self._lock:
            self._until = max(self._until, until)

        def later(doc: dict | None) -> tuple[dict, None]:
            doc = dict(doc or {})
            doc["until"] = max(float(doc.get("until") or 0), until)
            return doc, None

        try:
            self.state.update(COLLECTION, self.key, later)
        except Exception as exc:  # noqa: BLE001 - this instance waits anyway
            log.warning("could not share Notion's Retry-After: %s", exc)
