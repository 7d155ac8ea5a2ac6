"""What the API shows of a job, a registration and a user: no token, no internal URIs."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from svp.reasons import plain
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.topology import PIPELINE

USER_FIELDS = (
    "user_id",
    "workspace_name",
    "owner_name",
    "needs_reconnect",
    "reconnect_reason",
    "created_at",
    "updated_at",
)
REGISTRATION_FIELDS = (
    "kind",
    "tag",
    "title",
    "database_id",
    "data_source_id",
    "prompt",
    "many",
    "language",
    "properties",
    "updated_at",
)
STAGE_FIELDS = ("state", "attempts", "duration_ms", "error", "started_at", "finished_at")


def user_view(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user.get(k) for k in USER_FIELDS}


def registration_view(registration: dict[str, Any]) -> dict[str, Any]:
    return {k: registration[k] for k in REGISTRATION_FIELDS if k in registration}


def job_view(job: dict[str, Any], dead_lettered: bool | None = None) -> dict[str, Any]:
    link = job.get("link") or {}
    result = job.get("result") or {}
    stages = {
        stage: {k: (job["stages"].get(stage) or {}).get(k) for k in STAGE_FIELDS}
        for stage in PIPELINE
    }
    failed = job["status"] == "failed"
    url = link.get("url") or ""
    for record in stages.values():
        # A job that failed before a stage ran will never run it: "not reached", not "pending".
        if failed and record["state"] == "pending":
            record["state"] = "not reached"
        if record["state"] == "running":
            record["elapsed_s"] = _elapsed(record.get("started_at"))
        record["reason"] = plain(record["error"], url) if record["error"] else None
    reason = plain(job.get("error"), url) if job.get("error") else None
    running = [name for name, record in stages.items() if record["state"] == "running"]
    return {
        "job_id": job["job_id"],
        "status": job["status"],
        "error": job.get("error"),
        "reason": reason,  # the error in plain words; `error` is the recorded text
        "running": running,
        # Replay re-queues dead-lettered messages: only those can be replayed (None: unknown).
        "replayable": failed and dead_lettered is not False,
        "title": result.get("title") or jobs.output_of(job, "downloader").get("title") or "",
        "has_picture": bool(_picture_uri(job)),
        "review": result.get("review") or "",
        "from_file": bool(link.get("file")),
        "failed_stage": job.get("failed_stage"),
        "url": link.get("url") or link.get("file") or "",
        "tag": link.get("tag", ""),
        "link_page_id": link.get("page_id"),
        "page_url": result.get("page_url"),
        "duplicate_of": result.get("duplicate_of"),
        "replays": job.get("replays", 0),
        "dead_lettered": dead_lettered,
        "created_at": job.get("created_at"),
        "updated_at": job.get("updated_at"),
        "stages": stages,
    }


def _elapsed(started_at: Any) -> int | None:
    try:
        return max(0, int(time.time() - datetime.fromisoformat(str(started_at)).timestamp()))
    except ValueError:
        return None


def _picture_uri(job: dict[str, Any]) -> str:
    """The page's picture (the OCR stage's choice, the cover first) once the page is made."""
    if job.get("status") != "done":
        return ""
    pictures = jobs.output_of(job, "ocr").get("pictures") or []
    first = pictures[0] if pictures and isinstance(pictures[0], dict) else {}
    return str(first.get("uri") or "")


def picture(runtime: Runtime, job: dict[str, Any]) -> bytes | None:
    uri = _picture_uri(job)
    if not uri:
        return None
    try:
        return runtime.blobs.get_bytes(uri)
    except Exception:  # noqa: BLE001 - expired (SVP_KEEP_DAYS) or gone: the card shows none
        return None


def dead_lettered_jobs(runtime: Runtime) -> set[str] | None:
    """Jobs with a dead-lettered message; None where that is not cheap to know."""
    return runtime.dead_letters.job_ids()


def replay(runtime: Runtime, job: dict[str, Any]) -> list:
    """Re-queue the job's dead-lettered messages; the job reopens when its stage runs again
    (Pub/Sub pushes it on gcp; `svp serve --worker` or `svp run` locally)."""
    stage = job.get("failed_stage")
    return runtime.dead_letters.replay(
        job_id=job["job_id"], stage=stage if stage in PIPELINE else None
    )
