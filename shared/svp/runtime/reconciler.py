"""The reconciler: every poll, it moves each open job toward its end.

Open jobs (svp.runtime.jobs) are the ones not ended, or ended but not yet shown in Notion.
For each it:
- re-drives a stage whose lease ran out (its worker crashed, was killed, or hangs past its
  deadline), or fails the job once the stage has had its attempts;
- publishes a queued job a crashed poller never published;
- moves a job waiting for another job of the same video (svp.runtime.admission);
- sends a status Notion does not have yet (the outbox), once the job has stayed in it long
  enough to be worth showing.
Each job is handled on its own: one that cannot be handled now is logged and tried again at
the next poll.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from svp.runtime import jobs
from svp.runtime.admission import resume_waiting
from svp.runtime.context import Runtime
from svp.runtime.runner import SHOW_STATUS_AFTER_SECONDS, StatusSink, message_after, redrive
from svp.topology import PIPELINE

log = logging.getLogger("svp.reconciler")
# Open jobs looked at per run; the rest wait for the next poll.
BATCH = 500


@dataclass
class Reconciled:
    redriven: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def moved(self) -> bool:
        return bool(self.redriven or self.failed or self.published or self.resumed)


def reconcile(runtime: Runtime, status: StatusSink | None, now: float | None = None) -> Reconciled:
    report = Reconciled()
    now = time.time() if now is None else now
    for job in runtime.state.list(jobs.JOBS, where={"open": True}, limit=BATCH):
        try:
            _reconcile_job(runtime, status, job, now, report)
        except Exception as exc:  # one job's trouble must not stop the others
            report.errors.append(f"job {job['job_id']}: {type(exc).__name__}: {exc}")
            log.warning("could not reconcile job %s: %s", job["job_id"], exc, exc_info=True)
    if report.moved() or report.errors:
        log.info(
            "reconciled: %d re-driven, %d failed, %d published, %d resumed, %d shown",
            len(report.redriven),
            len(report.failed),
            len(report.published),
            len(report.resumed),
            len(report.synced),
            extra={"event": "reconcile.done"},
        )
    return report


def _reconcile_job(
    runtime: Runtime, status: StatusSink | None, job: jobs.Doc, now: float, report: Reconciled
) -> None:
    job_id = job["job_id"]
    if not jobs.is_terminal(job):
        if job["status"] == jobs.WAITING:
            if resume_waiting(runtime, job):
                report.resumed.append(job_id)
        elif _unpublished(job, now):
            runtime.publish_from("poller", message_after(job, "poller"))
            runtime.state.update(
                jobs.JOBS, job_id, lambda d: jobs.set_fields(d, time.time(), published=True)
            )
            report.published.append(job_id)
        for stage in PIPELINE:
            _expire(runtime, job_id, stage, now, report)
    if status is None:
        return
    current = runtime.state.get(jobs.JOBS, job_id)
    if current and not jobs.synced(current):
        settled = jobs.is_terminal(current) or _age(current, now) > SHOW_STATUS_AFTER_SECONDS
        if settled and status.sync(job_id):
            report.synced.append(job_id)


def _expire(runtime: Runtime, job_id: str, stage: str, now: float, report: Reconciled) -> None:
    max_attempts = runtime.settings.max_attempts

    def mutation(doc: jobs.Doc | None):
        updated, verdict = jobs.expire(doc, stage, now=now, max_attempts=max_attempts)
        return updated, (verdict, updated)

    verdict, expired = runtime.state.update(jobs.JOBS, job_id, mutation)
    if verdict == "redrive":
        log.warning("%s of job %s stopped responding: running it again", stage, job_id)
        redrive(runtime, expired, stage)
        report.redriven.append(job_id)
    elif verdict == "failed":
        log.error(
            "job failed: %s",
            expired["error"],
            extra={"event": "job.failed", "reason": expired["error"], "labels": {"job_id": job_id}},
        )
        report.failed.append(job_id)


def _unpublished(job: jobs.Doc, now: float) -> bool:
    """Queued by a poll that crashed before publishing it (not one still publishing it)."""
    stale = _age(job, now) > SHOW_STATUS_AFTER_SECONDS
    return job["status"] == "queued" and not job.get("published") and stale


def _age(job: jobs.Doc, now: float) -> float:
    try:
        return now - datetime.fromisoformat(job["updated_at"]).timestamp()
    except (KeyError, ValueError):
        return float("inf")
