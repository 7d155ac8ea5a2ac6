"""GET /health: what this instance is configured to use, checked, with a timestamp.

Always the state store. On one machine also the local queue (messages waiting, dead letters)
and the disk under SVP_DATA_DIR (free space, what the folder holds). Notion's API only when
Notion is set up (an integration token, the OAuth client, or on Google Cloud): a machine that
runs local jobs only is healthy without it.

Also the configured LLM and transcription models, when a key is set (served by the provider, not
retired: checked every few minutes, each check costs a request per model), and what confines
the child processes that parse strangers' media here (svp.media.sandbox: reported, never a
reason to be unhealthy).

The answer is cached for a few seconds, so probes every second cost one store read and one
Notion request per interval, not per probe. Notion counts as reachable when it answers HTTP
at all below 500 (an unauthenticated request gets 401: that is an answer).
"""

from __future__ import annotations

import shutil
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
MIN_FREE_MB = 500  # below this on the data folder's disk, downloads and pages may fail
MODELS_CACHE_SECONDS = 600.0


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
        self._models_cached: tuple[float, dict[str, Any]] | None = None

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
        checks: dict[str, dict[str, Any]] = {"state_store": self._state_store()}
        settings = self.runtime.settings
        if not settings.uses_gcp:
            checks["queue"] = self._queue()
            checks["disk"] = self._disk()
        if self._uses_notion():
            checks["notion_api"] = self._notion()
        else:
            checks["notion_api"] = {"ok": True, "checked": False, "why": "Notion is not set up"}
        checks["models"] = self._models()
        checks["children"] = self._children()
        healthy = all(check["ok"] for check in checks.values())
        return {
            "status": "ok" if healthy else "unhealthy",
            **checks,
            "timestamp": jobs.iso(time.time()),
            "cached": False,
        }

    def _models(self) -> dict[str, Any]:
        """A retired or unknown model is unhealthy (every summary would fail); a model that
        could not be checked, or shuts down later, is said but healthy."""
        now = time.monotonic()
        if self._models_cached and now - self._models_cached[0] < MODELS_CACHE_SECONDS:
            return self._models_cached[1]
        from svp.summary.models import check_configured_models

        problems = check_configured_models(self.runtime.settings)
        fatal = [p for p in problems if "is not available" in p or "was shut down" in p]
        answer: dict[str, Any] = {"ok": not fatal}
        if problems:
            answer["problems"] = problems
        self._models_cached = (now, answer)
        return answer

    def _children(self) -> dict[str, Any]:
        from svp.media.sandbox import isolation_report

        report = isolation_report(self.runtime.settings)
        return {"ok": True, "degraded": bool(report["missing"]), **report}

    def _uses_notion(self) -> bool:
        settings = self.runtime.settings
        oauth = settings.notion_client_id and settings.notion_client_secret
        return bool(settings.uses_gcp or settings.notion_token or oauth)

    def _queue(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            dead = len(self.runtime.dead_letters.job_ids() or ())
            waiting = getattr(self.runtime.bus, "waiting", None)
            count = waiting() if callable(waiting) else None
        except Exception as exc:  # noqa: BLE001 - any failure is the answer; its class says enough
            return {"ok": False, "error": type(exc).__name__, "ms": _ms(started)}
        return {"ok": True, "waiting": count, "dead_lettered_jobs": dead, "ms": _ms(started)}

    def _disk(self) -> dict[str, Any]:
        from svp.disk import usage

        folder = self.runtime.settings.data_dir
        try:
            free = shutil.disk_usage(folder).free
            held = usage(folder)["total"]
        except OSError as exc:
            return {"ok": False, "error": type(exc).__name__}
        mb = 1024 * 1024
        return {"ok": free >= MIN_FREE_MB * mb, "free_mb": free // mb, "data_dir_mb": held // mb}

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
