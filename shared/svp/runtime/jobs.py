"""The job document and its transitions, as pure functions run inside state-store transactions.

A job is one Notion link entry (or one `svp process` item). Each pipeline stage has a record:
pending -> running (leased to one worker) -> done | failed. Pure functions keep the rules in
one place for every store: Firestore may re-run them when a transaction is contended.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from svp.topology import JOIN, OUTPUT_TOPIC, PIPELINE, STATUS_LABEL

JOBS = "jobs"
# Firestore's TTL policy (terraform/firestore.tf) deletes a job document this long after it
# was (re)queued; locally nothing is deleted.
RETENTION_SECONDS = 30 * 24 * 3600
Doc = dict[str, Any]
ClaimOutcome = Literal["run", "done", "busy", "closed", "missing"]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def new_job(job_id: str, link: Doc, target: Doc, now: float) -> Doc:
    """`link`: url, tag, and where it came from (Notion page and data source, or a file)."""
    from svp.canonical import canonical_url

    return {
        "job_id": job_id,
        # Top-level, so stores can find earlier jobs for the same video.
        "url_key": canonical_url(link.get("url", "")),
        "user": link.get("user", "local"),
        "link": link,
        "target": target,
        "status": "queued",
        "error": None,
        "result": None,
        "replays": 0,
        "created_at": iso(now),
        "updated_at": iso(now),
        "expire_at": iso(now + RETENTION_SECONDS),
        "stages": {stage: {"state": "pending", "attempts": 0} for stage in PIPELINE},
    }


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    job: Doc | None
    attempt: int = 0


def claim(
    doc: Doc | None, stage: str, *, now: float, lease_seconds: int, worker: str, replays: int = 0
) -> tuple[Doc | None, Claim]:
    """Lease `stage` of the job to `worker`, unless it is done, leased, or the job is closed."""
    if doc is None:
        return None, Claim("missing", None)
    record = doc["stages"][stage]
    if record["state"] == "done":
        return None, Claim("done", doc)
    if doc["status"] == "failed":
        if replays <= doc.get("replays", 0):
            return None, Claim("closed", doc)
        doc = _reopen(doc, replays)
        record = doc["stages"][stage]
    elif record["state"] == "running" and record.get("lease_until", 0) > now:
        return None, Claim("busy", doc)

    doc = copy.deepcopy(doc)
    record = doc["stages"][stage]
    record.update(
        state="running",
        attempts=record["attempts"] + 1,
        lease_until=now + lease_seconds,
        worker=worker,
        started_at=iso(now),
        started_ts=now,
    )
    doc["status"] = STATUS_LABEL[stage]
    doc["updated_at"] = iso(now)
    return doc, Claim("run", doc, record["attempts"])


def _reopen(doc: Doc, replays: int) -> Doc:
    """A replayed message revives a failed job: failed stages become pending again."""
    doc = copy.deepcopy(doc)
    doc.update(status="queued", error=None, replays=replays)
    for record in doc["stages"].values():
        if record["state"] in ("failed", "running"):
            record.update(state="pending", lease_until=0)
    return doc


def complete(
    doc: Doc | None, stage: str, output: Doc, *, now: float
) -> tuple[Doc | None, Doc | None]:
    """Mark `stage` done; hands back the updated job (whether to publish next is
    `next_ready(job, stage)`, decided on this committed state)."""
    if doc is None:
        return None, None
    doc = copy.deepcopy(doc)
    record = doc["stages"][stage]
    started = record.get("started_ts", now)
    record.update(
        state="done",
        output=output,
        error=None,
        lease_until=0,
        finished_at=iso(now),
        duration_ms=int((now - started) * 1000),
    )
    doc["updated_at"] = iso(now)
    if stage == PIPELINE[-1]:
        doc.update(status="done", result=output)
    return doc, doc


def next_ready(doc: Doc, stage: str) -> bool:
    """True when `stage` is done and, for a join, every stage joined with it is done too."""
    topic = OUTPUT_TOPIC.get(stage)
    if topic is None:
        return False
    joined = JOIN.get(topic, (stage,))
    return all(doc["stages"][s]["state"] == "done" for s in joined)


def fail(doc: Doc | None, stage: str, reason: str, *, now: float) -> tuple[Doc | None, None]:
    if doc is None:
        return None, None
    doc = copy.deepcopy(doc)
    doc["stages"][stage].update(state="failed", error=reason, lease_until=0, finished_at=iso(now))
    doc.update(status="failed", error=reason, failed_stage=stage, updated_at=iso(now))
    return doc, None


def release(doc: Doc | None, stage: str, error: str, *, now: float) -> tuple[Doc | None, None]:
    """Give the lease back after a transient error so the redelivery can claim it at once."""
    if doc is None or doc["stages"][stage]["state"] != "running":
        return None, None
    doc = copy.deepcopy(doc)
    doc["stages"][stage].update(state="pending", error=error, lease_until=0)
    doc["updated_at"] = iso(now)
    return doc, None


def set_fields(doc: Doc | None, now: float, **fields: Any) -> tuple[Doc | None, None]:
    if doc is None:
        return None, None
    doc = {**doc, **fields, "updated_at": iso(now)}
    return doc, None


def output_of(job: Doc, stage: str) -> Doc:
    return job["stages"][stage].get("output") or {}
