"""Per-key request budgets for the API: token buckets kept in this process's memory.

On Cloud Functions every instance keeps its own buckets, so the limit holds per instance:
with N warm instances one client may get up to N times the configured rate. That stops a
runaway script or a guessing loop; a hard global limit would need a shared store (Firestore
counters or Cloud Armor in front of the function).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

MAX_KEYS = 10_000  # past this, buckets that are full again are forgotten


class RequestBudgets:
    """`per_minute` requests per key, in bursts of up to `per_minute`."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def hit(self, key: str) -> int:
        """Take one request from `key`'s budget: 0 when allowed, else the whole seconds to
        wait before the next one is (the Retry-After value)."""
        now = self.clock()
        with self._lock:
            tokens = self._tokens(key, now)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > MAX_KEYS:
                self._prune(now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate)

    def _prune(self, now: float) -> None:
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.capacity]:
            del self._buckets[key]
