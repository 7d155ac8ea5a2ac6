"""The reconciler: every poll, it moves each job that needs it toward its end.

It reads only the jobs that need action: each job's `check_at` (svp.runtime.jobs) says when
the reconciler must next look at it, and one indexed range query (`check_at <= now`, oldest
first, paged) lists those due. A job that needs nothing has no `check_at` and costs nothing.
For each job due it:
- re-drives a stage whose lease ran out (its worker crashed, was killed, or hangs past its
  deadline), or fails the job once the stage has had its attempts;
- publishes a queued job a crashed poller never published;
- wakes the jobs waiting for an ended job's video, and looks at a waiting job whose owner
  never signalled (svp.runtime.admission);
- sends a status Notion does not have yet (the outbox).
Oldest first and under a time budget that leaves the poll its share: a job handled leaves the
range (or, when it could not be moved now, is deferred behind the others), so none starves.
Each job is handled on its own: one that cannot be handled now is logged and deferred.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from svp.ports import Span
from svp.runtime import jobs
from svp.runtime.admission import resume_waiting
from svp.runtime.context import Runtime
from svp.runtime.runner import StatusSink, message_after, redrive

log = logging.getLogger("svp.reconciler")
# Jobs read per query; pages follow while the budget lasts.
PAGE = 100
# Of the poller's 120 s (limits.json): the Notion poll after it keeps the rest.
BUDGET_SECONDS = 30.0
# A job that could not be moved now (Notion refused its status) is looked at again after this.
RETRY_SECONDS = 60.0


@dataclass
class Reconciled:
    redriven: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    looked_at: int = 0
    # True when the budget ran out before every due job was looked at.
    unfinished: bool = False

    def moved(self) -> bool:
        return bool(self.redriven or self.failed or self.published or self.resumed)


def reconcile(
    runtime: Runtime,
    status: StatusSink | None,
    now: float | None = None,
    budget: float = BUDGET_SECONDS,
) -> Reconciled:
    report = Reconciled()
    now = time.time() if now is None else now
    stop = time.monotonic() + budget
    seen: set[str] = set()
    low: float | None = None
    while True:
        page = runtime.state.list(jobs.JOBS, span=Span("check_at", low, now), limit=PAGE)
        fresh = [job for job in page if job["job_id"] not in seen]
        for job in fresh:
            if time.monotonic() > stop:
                report.unfinished = True
                break
            seen.add(job["job_id"])
            report.looked_at += 1
            _reconcile_one(runtime, status, job, now, report)
        if report.unfinished or len(page) < PAGE or not fresh:
            break
        low = page[-1]["check_at"]  # later pages: from where this one ended
    if report.moved() or report.errors or report.unfinished:
        log.info(
            "reconciled %d jobs: %d re-driven, %d failed, %d published, %d resumed, %d shown%s",
            report.looked_at,
            len(report.redriven),
            len(report.failed),
            len(report.published),
            len(report.resumed),
            len(report.synced),
            " (budget spent: the rest at the next poll)" if report.unfinished else "",
            extra={"event": "reconcile.done"},
        )
    return report


def _reconcile_one(
    runtime: Runtime, status: StatusSink | None, job: jobs.Doc, now: float, report: Reconciled
) -> None:
    job_id = job["job_id"]
    try:
        if not _reconcile_job(runtime, status, jobs.upgrade(job), now, report):
            _defer(runtime, job_id, now)
    except Exception as exc:  # one job's trouble must not stop the others
        report.errors.append(f"job {job_id}: {type(exc).__name__}: {exc}")
        log.warning("could not reconcile job %s: %s", job_id, exc, exc_info=True)
        try:
            _defer(runtime, job_id, now)
        except Exception:  # looked at again at the next poll
            log.warning("could not defer job %s", job_id, exc_info=True)


def _reconcile_job(
    runtime: Runtime, status: StatusSink | None, job: jobs.Doc, now: float, report: Reconciled
) -> bool:
    """Act on one due job; False when it is still due and should be deferred."""
    job_id = job["job_id"]
    # The job as it now stands, when known (None: moved by others, read it afresh).
    current: jobs.Doc | None = job
    if jobs.is_terminal(job) and job.get("waiters"):
        _wake_waiters(runtime, job, report)
    elif not jobs.is_terminal(job):
        if job["status"] == jobs.WAITING and (job.get("wake_at") or 0) <= now:
            current = None
            if resume_waiting(runtime, job, now=now):
                report.resumed.append(job_id)
        elif _unpublished(job, now):
            runtime.publish_from("poller", message_after(job, "poller"))
            runtime.state.update(
                jobs.JOBS, job_id, lambda d: jobs.set_fields(d, time.time(), published=True)
            )
            report.published.append(job_id)
        for stage, record in job["stages"].items():
            if record["state"] == "running" and (record.get("lease_until") or 0) <= now:
                expired = _expire(runtime, job_id, stage, now, report)
                current = expired if expired is not None and current is not None else None
    if current is not None and jobs.synced(current):
        return True
    if status is None:
        return current is None
    if current is not None and not _settled(current, now):
        return True  # not worth showing yet: its check_at says when
    if status.sync(job_id):
        report.synced.append(job_id)
        return True
    return False


def _wake_waiters(runtime: Runtime, owner: jobs.Doc, report: Reconciled) -> None:
    """`owner` ended: the jobs waiting for its video point at its page, or take it over."""
    woken = []
    for waiter_id in owner["waiters"]:
        waiter = runtime.state.get(jobs.JOBS, waiter_id)
        waiting = waiter is not None and waiter["status"] == jobs.WAITING
        if waiting and resume_waiting(runtime, jobs.upgrade(waiter)):
            report.resumed.append(waiter_id)
        woken.append(waiter_id)
    runtime.state.update(jobs.JOBS, owner["job_id"], lambda d: jobs.drop_waiters(d, woken))


def _expire(
    runtime: Runtime, job_id: str, stage: str, now: float, report: Reconciled
) -> jobs.Doc | None:
    """The job as expiring `stage` left it; None when a heartbeat renewed the lease."""
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
    return expired


def _defer(runtime: Runtime, job_id: str, now: float) -> None:
    runtime.state.update(jobs.JOBS, job_id, lambda d: jobs.defer(d, now + RETRY_SECONDS))


def _unpublished(job: jobs.Doc, now: float) -> bool:
    """Queued by a poll that crashed before publishing it (not one still publishing it)."""
    stale = _age(job, now) > jobs.SHOW_AFTER_SECONDS
    return job["status"] == "queued" and not job.get("published") and stale


def _settled(job: jobs.Doc, now: float) -> bool:
    """Its status is worth showing: the job ended, or stayed in it a moment."""
    return jobs.is_terminal(job) or _age(job, now) > jobs.SHOW_AFTER_SECONDS


def _age(job: jobs.Doc, now: float) -> float:
    return now - jobs.timestamp(job.get("updated_at"))
