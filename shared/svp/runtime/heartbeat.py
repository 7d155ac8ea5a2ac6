"""A running stage's heartbeat: it renews the lease and shows the stage's status once the stage
has run long enough for a person to see it.

It runs in a thread of its own, so a worker blocked in a slow request still proves it is alive;
a worker that dies stops renewing and its lease runs out (svp.runtime.reconciler re-drives it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger("svp.heartbeat")


class Heartbeat:
    """`renew()` every `every` seconds until stopped or `renew()` says the lease is lost;
    `show()` once after `show_after` seconds, if still running."""

    def __init__(
        self,
        renew: Callable[[], bool],
        every: float,
        show: Callable[[], object] | None = None,
        show_after: float = 0.0,
    ):
        self.renew = renew
        self.every = every
        self.show = show
        self.show_after = show_after
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="svp-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Waits for a status write in flight, so it cannot land after the stage's next status.
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        started = time.monotonic()
        next_renewal = started + self.every
        shown = self.show is None
        while not self._stop.is_set():
            now = time.monotonic()
            due = [next_renewal] if shown else [next_renewal, started + self.show_after]
            if self._stop.wait(max(0.0, min(due) - now)):
                return
            now = time.monotonic()
            if not shown and now >= started + self.show_after:
                shown = True
                self._quietly(self.show, "show the stage's status")
            if now >= next_renewal:
                next_renewal = now + self.every
                if self._quietly(self.renew, "renew the lease") is False:
                    log.warning("the stage's lease was lost: another worker may take it over")
                    self.lost.set()
                    return

    @staticmethod
    def _quietly(call: Callable[[], object] | None, what: str) -> object:
        try:
            return call() if call else None
        except Exception as exc:  # noqa: BLE001 - a store or Notion hiccup: the next beat retries
            log.warning("could not %s: %s", what, exc)
            return None
