"""The stage runner every pipeline function shares: claim, work, commit, publish.

Raise to retry, return to drop: a `PermanentError` fails the job and acks; anything else
releases the lease and nacks, so Pub/Sub (or the local queue) redelivers with backoff, until the
dead-letter policy takes the message. On the last attempt the job is marked failed first, so
the link never stays "in progress" forever; a replay reopens it.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svp.errors import PermanentError
from svp.log import log_context
from svp.messages import JobMessage
from svp.ports import Mutation
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.envelope import Delivery
from svp.runtime.linkstatus import report_status
from svp.topology import STATUS_LABEL

log = logging.getLogger("svp.runner")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class StageContext:
    """What a stage's work function sees: the job, the message, the runtime, a scratch folder."""

    runtime: Runtime
    stage: str
    job: jobs.Doc
    message: JobMessage
    scratch: Path

    @property
    def job_id(self) -> str:
        return self.job["job_id"]

    def save(self, name: str, data: bytes | Path, content_type: str | None = None) -> str:
        key = self.runtime.artifact_key(self.job_id, self.stage, name)
        if isinstance(data, Path):
            return self.runtime.blobs.put_file(key, data, content_type)
        return self.runtime.blobs.put_bytes(key, data, content_type)

    def output_of(self, stage: str) -> jobs.Doc:
        return jobs.output_of(self.job, stage)


# A stage's work: returns its output (small JSON; artifact URIs for anything large).
StageWork = Callable[[StageContext], dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    ack: bool
    detail: str


class StageRunner:
    def __init__(self, stage: str, runtime: Runtime, work: StageWork):
        self.stage = stage
        self.runtime = runtime
        self.work = work

    def _update(self, job_id: str, mutation: Mutation) -> Any:
        return self.runtime.state.update(jobs.JOBS, job_id, mutation)

    def handle(self, delivery: Delivery) -> Outcome:
        message = delivery.message
        settings = self.runtime.settings
        now = time.time()
        claim = self._update(
            message.job_id,
            lambda doc: jobs.claim(
                doc,
                self.stage,
                now=now,
                lease_seconds=settings.lease_seconds,
                worker=WORKER_ID,
                replays=message.replays,
            ),
        )
        attempt = max(delivery.attempt or 0, claim.attempt)
        labels = {"job_id": message.job_id, "stage": self.stage, "attempt": attempt}
        if claim.job:
            labels["url"] = claim.job["link"].get("url") or claim.job["link"].get("file")
        with log_context(**labels):
            return self._dispatch(claim, delivery, attempt)

    def _dispatch(self, claim: jobs.Claim, delivery: Delivery, attempt: int) -> Outcome:
        if claim.outcome == "missing":
            log.error("no job %s: message dropped", delivery.message.job_id)
            return Outcome(True, "unknown job")
        if claim.outcome == "closed":
            log.info("job already failed: message dropped (replay it to retry)")
            return Outcome(True, "job closed")
        if claim.outcome == "busy":
            log.info("stage is leased by another worker: retry later")
            return Outcome(False, "stage busy")
        if claim.outcome == "done":
            log.info("redelivery of finished work: re-publishing the next message")
            self._publish_next(claim.job, ready=jobs.next_ready(claim.job, self.stage))
            return Outcome(True, "already done")
        return self._run(claim.job, delivery, attempt)

    def _run(self, job: jobs.Doc, delivery: Delivery, attempt: int) -> Outcome:
        report_status(self.runtime, job, STATUS_LABEL[self.stage])
        scratch = Path(tempfile.mkdtemp(prefix=f"svp-{self.stage}-"))
        started = time.monotonic()
        try:
            context = StageContext(self.runtime, self.stage, job, delivery.message, scratch)
            output = self.work(context)
        except PermanentError as exc:
            self._fail(job, exc.reason)
            return Outcome(True, exc.reason)
        except Exception as exc:  # transient by default: retrying is the safe choice
            reason = f"{type(exc).__name__}: {exc}"
            if attempt >= self.runtime.settings.max_attempts:
                log.exception("giving up after %d attempts", attempt)
                self._fail(job, f"gave up after {attempt} attempts: {reason}")
            else:
                log.warning("attempt %d failed, will retry: %s", attempt, reason, exc_info=True)
                self._update(
                    job["job_id"], lambda d: jobs.release(d, self.stage, reason, now=time.time())
                )
            return Outcome(False, reason)
        finally:
            # /tmp is memory on Cloud Functions: never leave media behind.
            shutil.rmtree(scratch, ignore_errors=True)

        done_at = time.time()
        finished = (
            self._update(job["job_id"], lambda d: jobs.complete(d, self.stage, output, now=done_at))
            or job
        )
        log.info(
            "%s done",
            self.stage,
            extra={"event": "stage.done", "duration_ms": int((time.monotonic() - started) * 1000)},
        )
        self._publish_next(finished, jobs.next_ready(finished, self.stage))
        if finished["status"] == "done":
            log.info("job done", extra={"event": "job.done", "result": finished.get("result")})
        return Outcome(True, "done")

    def _fail(self, job: jobs.Doc, reason: str) -> None:
        self._update(job["job_id"], lambda d: jobs.fail(d, self.stage, reason, now=time.time()))
        log.error("job failed: %s", reason, extra={"event": "job.failed", "reason": reason})
        report_status(self.runtime, job, "failed", error=reason)

    def _publish_next(self, job: jobs.Doc, ready: bool) -> None:
        if not ready:
            return
        artifacts = {
            name: uri
            for name, uri in (jobs.output_of(job, self.stage).get("artifacts") or {}).items()
        }
        message = JobMessage(job["job_id"], self.stage, artifacts, replays=job.get("replays", 0))
        self.runtime.publish_from(self.stage, message)
