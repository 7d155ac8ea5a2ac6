"""A client-side limiter that keeps each Notion token under its average rate (about 3/s).

One limiter per token per process, shared by every thread, so five concurrent jobs together
stay under the limit instead of each of them hitting 429s.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Generic cell rate algorithm: `rate` requests per second on average, bursts of `burst`."""

    def __init__(
        self,
        rate: float,
        burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / rate
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0  # theoretical arrival time of the next request
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        with self._lock:
            now = self.clock()
            arrival = max(self._next, now)
            wait = arrival - now - (self.burst - 1) * self.interval
            self._next = arrival + self.interval
        if wait > 0:
            self.sleep(wait)
            return wait
        return 0.0

    def pause(self, seconds: float) -> None:
        """Notion asked to wait (Retry-After): no thread starts a request before then."""
        with self._lock:
            resume = self.clock() + seconds + (self.burst - 1) * self.interval
            self._next = max(self._next, resume)


_limiters: dict[str, RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(token: str, rate: float) -> RateLimiter:
    key = hashlib.sha256(token.encode()).hexdigest()  # never keep the token itself as a key
    with _registry_lock:
        if key not in _limiters:
            _limiters[key] = RateLimiter(rate)
        return _limiters[key]
