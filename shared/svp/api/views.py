"""What the API shows of a job, a registration and a user: no token, no internal URIs."""

from __future__ import annotations

from typing import Any

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
    return {
        "job_id": job["job_id"],
        "status": job["status"],
        "error": job.get("error"),
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
