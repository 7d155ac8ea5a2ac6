"""GET /health: can this instance reach its state store and Notion's API? With a timestamp.

The answer is cached for a few seconds, so probes every second cost one store read and one
Notion request per interval, not per probe. Notion counts as reachable when it answers HTTP
at all below 500 (an unauthenticated request gets 401: that is an answer).
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import Any

from svp.runtime import jobs
from svp.runtime.context import Runtime

CACHE_SECONDS = 5.0
NOTION_TIMEOUT_SECONDS = 2.0
NOTION_API = "https://api.notion.com"


class Health:
    def __init__(
        self,
        runtime: Runtime,
        cache_seconds: float = CACHE_SECONDS,
        timeout: float = NOTION_TIMEOUT_SECONDS,
    ):
        self.runtime = runtime
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None

    def check(self) -> tuple[dict[str, Any], int]:
        """(answer, HTTP status): 200 when both are fine, else 503."""
        with self._lock:  # concurrent probes wait for one check instead of making their own
            now = time.monotonic()
            if self._cached and now - self._cached[0] < self.cache_seconds:
                answer = {**self._cached[1], "cached": True}
            else:
                answer = self._fresh()
                self._cached = (now, answer)
        return answer, 200 if answer["status"] == "ok" else 503

    def _fresh(self) -> dict[str, Any]:
        state, notion = self._state_store(), self._notion()
        healthy = state["ok"] and notion["ok"]
        return {
            "status": "ok" if healthy else "unhealthy",
            "state_store": state,
            "notion_api": notion,
            "timestamp": jobs.iso(time.time()),
            "cached": False,
        }

    def _state_store(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            self.runtime.state.get("health", "probe")  # a read of a document that need not exist
        except Exception as exc:  # noqa: BLE001 - any failure is the answer; its class says enough
            return {"ok": False, "error": type(exc).__name__, "ms": _ms(started)}
        return {"ok": True, "ms": _ms(started)}

    def _notion(self) -> dict[str, Any]:
        base = (self.runtime.settings.notion_base_url or NOTION_API).rstrip("/")
        request = urllib.request.Request(
            f"{base}/v1/users/me", headers={"Notion-Version": "2025-09-03"}
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                status = reply.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:  # refused, DNS, timeout, bad URL
            return {"ok": False, "error": type(exc).__name__, "ms": _ms(started)}
        return {"ok": status < 500, "status": status, "ms": _ms(started)}


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
