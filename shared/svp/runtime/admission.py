"""Whether a job processes its video, and moving a waiting job on once it may.

Used where a job learns its video: the poller (from the URL) and the downloader (from the
download, which resolves short links); and by the reconciler for jobs still waiting.

A waiting job costs nothing while it waits: it is listed in its owner's `waiters`, and the
owner's end makes the owner due for the reconciler, which wakes them (svp.runtime.jobs).
Should that never come (the owner's document vanished), the waiting job is looked at again
after jobs.WAIT_RECHECK_SECONDS, doubling.
"""

from __future__ import annotations

import logging
import time

from svp.runtime import jobs, videos
from svp.runtime.context import Runtime
from svp.runtime.runner import redrive
from svp.topology import PIPELINE

log = logging.getLogger("svp.admission")


def settle(runtime: Runtime, job: jobs.Doc, video: str) -> videos.Verdict:
    """Claim `video` for `job` and act on the verdict: "own" and "reprocess" go on (the caller
    publishes or continues); "wait" parks the job; "point" ends it on the owner's page."""
    now = time.time()
    job_id = job["job_id"]
    admission = videos.admit(runtime.state, job, video, now=now)
    while admission.verdict == "wait" and not _wake_me(runtime, admission.owner, job_id):
        admission = videos.admit(runtime.state, job, video, now=time.time())  # it just ended
    if admission.verdict == "wait":
        runtime.state.update(
            jobs.JOBS,
            job_id,
            lambda d: jobs.set_status(
                d,
                jobs.WAITING,
                now=now,
                waiting_for=admission.owner,
                wake_at=now + jobs.WAIT_RECHECK_SECONDS,
                wait_checks=0,
            ),
        )
        log.info("the same video is being processed by job %s: waiting", admission.owner)
    elif admission.verdict == "point":
        result = videos.pointed_result(admission.claim, admission.owner)
        runtime.state.update(
            jobs.JOBS,
            job_id,
            lambda d: jobs.set_status(d, "done", now=now, result=result, waiting_for=None),
        )
        log.info(
            "already processed in job %s: pointed at its page",
            admission.owner,
            extra={"event": "job.done", "result": result},
        )
    return admission.verdict


def _wake_me(runtime: Runtime, owner: str, waiter: str) -> bool:
    """List `waiter` in `owner`'s waiters; False when the owner has ended meanwhile."""
    return runtime.state.update(jobs.JOBS, owner, lambda d: jobs.add_waiter(d, waiter))


def resume_waiting(runtime: Runtime, job: jobs.Doc, *, now: float | None = None) -> bool:
    """A waiting job whose owner may have moved: point it, or run it. True when it moved.
    While its owner is still at work it only gets a later look (its `updated_at` stays)."""
    now = time.time() if now is None else now
    owner = runtime.state.get(jobs.JOBS, job.get("waiting_for") or "")
    busy = owner is not None and owner["job_id"] != job["job_id"] and not jobs.is_terminal(owner)
    # (Listed again in case it waited from before `waiters` existed.)
    if busy and _wake_me(runtime, owner["job_id"], job["job_id"]):
        runtime.state.update(jobs.JOBS, job["job_id"], lambda d: jobs.wait_longer(d, now=now))
        return False
    verdict = settle(runtime, job, job["video"])
    if verdict in ("wait", "point"):
        return verdict == "point"
    now = time.time()
    resumed = runtime.state.update(
        jobs.JOBS,
        job["job_id"],
        lambda d: (
            jobs.set_status(d, "queued", now=now, waiting_for=None, published=True)
            if d and d["status"] == jobs.WAITING
            else (None, None)
        ),
    )
    if resumed is not None:
        redrive(runtime, resumed, first_unfinished(resumed))
    return resumed is not None


def first_unfinished(job: jobs.Doc) -> str:
    return next(s for s in PIPELINE if job["stages"][s]["state"] != "done")
