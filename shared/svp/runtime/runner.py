"""The stage runner every pipeline function shares: claim, work, commit, publish.

Raise to retry, return to drop: a `PermanentError` fails the job and acks; anything else
releases the claim and nacks, so Pub/Sub (or the local queue) redelivers with backoff. The
stage's last attempt fails the job and dead-letters the message (`svp replay` brings it back).

No link stays "in progress" whatever happens to a worker: each claim has a fencing token, a
lease renewed by a heartbeat while the worker lives, and a deadline (svp.limits). A delivery
that finds the stage leased to a live worker is acked: that worker publishes the next message,
or, if it dies, its lease runs out and the reconciler re-drives the stage or fails the job.
A worker that lost its claim cannot complete, release or fail the stage any more.

Cloud Run does not stop a request at its timeout: the function answers 504 to Pub/Sub and may
run on. So a stage keeps its own time limit (the function's timeout, svp.limits): past it the
heartbeat stops renewing, so the lease runs out and the reconciler takes over, and
`ensure_held` refuses every effect that cannot be undone (a Notion page) from a margin before
it. What a late worker can still do is harmless: its artifacts go to keys of its own attempt,
which only its fenced `complete` would have made the job's output.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from svp import limits
from svp.errors import PermanentError, TransientError
from svp.log import log_context
from svp.messages import JobMessage
from svp.ports import Mutation
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.envelope import Delivery
from svp.runtime.heartbeat import Heartbeat
from svp.topology import UPSTREAM

log = logging.getLogger("svp.runner")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
# A stage's status is shown in Notion once it has run this long: quick stages (a write, a
# summary without LLM) go by unseen, which saves a Notion request each.
SHOW_STATUS_AFTER_SECONDS = 2.0


class StatusSink(Protocol):
    """Shows a job's latest status where its link lives (svp.notion.status)."""

    def sync(self, job_id: str) -> bool: ...


class LeaseLost(TransientError):
    """The stage was taken over by another worker: this one must not write anything more."""


@dataclass
class StageContext:
    """What a stage's work function sees: the job, the message, the runtime, a scratch folder."""

    runtime: Runtime
    stage: str
    job: jobs.Doc
    message: JobMessage
    scratch: Path
    token: str = ""
    # time.time() by which the function's own time limit ends (Cloud Run answers 504 then)
    deadline: float = float("inf")

    @property
    def job_id(self) -> str:
        return self.job["job_id"]

    def save(self, name: str, data: bytes | Path, content_type: str | None = None) -> str:
        # Keyed by attempt: a fenced-off worker that runs on can never overwrite what the
        # attempt that completed the stage wrote.
        key = self.runtime.artifact_key(self.job_id, self.stage, name, attempt=self.token[:12])
        if isinstance(data, Path):
            return self.runtime.blobs.put_file(key, data, content_type)
        return self.runtime.blobs.put_bytes(key, data, content_type)

    def output_of(self, stage: str) -> jobs.Doc:
        return jobs.output_of(self.job, stage)

    def effect_margin(self) -> float:
        """Time an effect may take: no other worker can take the stage over sooner."""
        return min(limits.margin_seconds(), self.runtime.settings.lease_seconds / 2)

    def ensure_held(self) -> None:
        """Raise LeaseLost unless this worker still holds the stage with time to spare: call it
        before an effect that must not happen twice (creating a Notion page)."""
        margin = self.effect_margin()
        if time.time() + margin > self.deadline:
            raise LeaseLost(f"{self.stage} is past its time limit: leaving it to a new attempt")
        current = self.runtime.state.get(jobs.JOBS, self.job_id)
        record = (current or {}).get("stages", {}).get(self.stage, {})
        if not jobs.holds(current, self.stage, self.token):
            raise LeaseLost(f"{self.stage} was taken over by another worker")
        if record["lease_until"] < time.time() + margin:
            raise LeaseLost(f"{self.stage}'s lease is about to run out")


# A stage's work: returns its output (small JSON; artifact URIs for anything large).
StageWork = Callable[[StageContext], dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    ack: bool
    detail: str
    # Acked here, but the message belongs in the dead-letter store (the stage gave up on it).
    dead_letter: bool = False


class StageRunner:
    def __init__(
        self, stage: str, runtime: Runtime, work: StageWork, status: StatusSink | None = None
    ):
        self.stage = stage
        self.runtime = runtime
        self.work = work
        self.status = status

    def _update(self, job_id: str, mutation: Mutation) -> Any:
        return self.runtime.state.update(jobs.JOBS, job_id, mutation)

    def handle(self, delivery: Delivery) -> Outcome:
        message = delivery.message
        token = uuid.uuid4().hex
        now = time.time()
        claim = self._update(
            message.job_id,
            lambda doc: jobs.claim(
                doc,
                self.stage,
                now=now,
                token=token,
                lease=self.runtime.settings.lease_seconds,
                deadline=limits.deadline_seconds(self.stage),
                worker=WORKER_ID,
                replays=message.replays,
            ),
        )
        # attempt: this stage's runs for the job; delivery: Pub/Sub's count for this message.
        labels = {
            "job_id": message.job_id,
            "stage": self.stage,
            "attempt": claim.attempt,
            "delivery": delivery.attempt,
        }
        if claim.job:
            labels["url"] = claim.job["link"].get("url") or claim.job["link"].get("file")
        with log_context(**labels):
            return self._dispatch(claim, delivery, token)

    def _dispatch(self, claim: jobs.Claim, delivery: Delivery, token: str) -> Outcome:
        if claim.outcome == "missing":
            log.error("no job %s: message dropped", delivery.message.job_id)
            return Outcome(True, "unknown job")
        if claim.outcome == "closed":
            log.info("the job ended or waits for another job: message dropped")
            return Outcome(True, "job closed")
        if claim.outcome == "owed":
            log.info("the stage gave up on this message: storing it as a dead letter again")
            return Outcome(True, "dead letter owed", dead_letter=True)
        if claim.outcome == "busy":
            # The holder publishes the next message; if it dies, its lease runs out and the
            # reconciler re-drives the stage. Retrying here would only burn attempts.
            log.info("stage is leased by a live worker: message dropped")
            return Outcome(True, "stage busy")
        if claim.outcome == "done":
            log.info("redelivery of finished work: re-publishing the next message")
            self.publish_next(claim.job, self.stage)
            return Outcome(True, "already done")
        return self._run(claim, delivery, token)

    def _run(self, claim: jobs.Claim, delivery: Delivery, token: str) -> Outcome:
        job = claim.job
        assert job is not None
        job_id = job["job_id"]
        scratch = Path(tempfile.mkdtemp(prefix=f"svp-{self.stage}-"))
        let_children_in(scratch, self.runtime.settings.child_user)
        started = time.monotonic()
        deadline = time.time() + limits.timeout_seconds(self.stage)
        context = StageContext(
            self.runtime, self.stage, job, delivery.message, scratch, token, deadline
        )
        lease = self.runtime.settings.lease_seconds

        def renew() -> bool:
            now = time.time()
            if now > deadline:  # past the function's own limit: let a new attempt take over
                return False
            return self._update(
                job_id, lambda d: jobs.heartbeat(d, self.stage, token, now=now, lease=lease)
            )

        show = (lambda: self.status.sync(job_id)) if self.status else None
        try:
            with Heartbeat(renew, lease / 3, show, SHOW_STATUS_AFTER_SECONDS):
                output = self.work(context)
        except LeaseLost as exc:
            log.warning("%s: result discarded", exc.reason)
            return Outcome(True, exc.reason)
        except PermanentError as exc:
            self._fail(job_id, exc.reason, token)
            return Outcome(True, exc.reason)
        except Exception as exc:  # noqa: BLE001 - transient by default: retrying is safe
            return self._retry_or_give_up(job_id, claim.attempt, delivery, token, exc)
        finally:
            # /tmp is memory on Cloud Functions: never leave media behind.
            shutil.rmtree(scratch, ignore_errors=True)

        done_at = time.time()
        finished = self._update(
            job_id, lambda d: jobs.complete(d, self.stage, token, output, now=done_at)
        )
        if finished is None:
            log.warning("the stage was taken over while it ran: result discarded")
            return Outcome(True, "lease lost")
        log.info(
            "%s done",
            self.stage,
            extra={"event": "stage.done", "duration_ms": int((time.monotonic() - started) * 1000)},
        )
        self.publish_next(finished, self.stage)
        if jobs.is_terminal(finished) or finished["status"] == jobs.WAITING:
            self._show(job_id)
        if finished["status"] == "done":
            log.info("job done", extra={"event": "job.done", "result": finished.get("result")})
        return Outcome(True, "done")

    def _retry_or_give_up(
        self, job_id: str, attempt: int, delivery: Delivery, token: str, exc: Exception
    ) -> Outcome:
        reason = exc.reason if isinstance(exc, TransientError) else f"{type(exc).__name__}: {exc}"
        settings = self.runtime.settings
        last_delivery = (delivery.attempt or 0) >= settings.max_deliveries
        if attempt < settings.max_attempts and not last_delivery:
            log.warning("attempt %d failed, will retry: %s", attempt, reason, exc_info=True)
            self._update(
                job_id, lambda d: jobs.release(d, self.stage, token, reason, now=time.time())
            )
            return Outcome(False, reason)
        log.exception("giving up after %d attempts", attempt)
        self._fail(job_id, f"gave up after {attempt} attempts: {reason}", token, dead_letter=True)
        return Outcome(True, reason, dead_letter=True)

    def _fail(self, job_id: str, reason: str, token: str, dead_letter: bool = False) -> None:
        failed = self._update(
            job_id,
            lambda d: jobs.fail(
                d, self.stage, reason, now=time.time(), token=token, dead_letter=dead_letter
            ),
        )
        if failed:
            log.error("job failed: %s", reason, extra={"event": "job.failed", "reason": reason})
            self._show(job_id)

    def _show(self, job_id: str) -> None:
        if self.status is not None:
            self.status.sync(job_id)

    def dead_letter_stored(self, job_id: str) -> None:
        """The message this stage gave up on is in the dead-letter store now."""
        self._update(job_id, lambda d: jobs.dead_letter_stored(d, self.stage))

    def dead_lettered(self, job_id: str, deliveries: int, last_error: str) -> str:
        """A message of this stage reached the dead-letter store, whether or not the stage's
        code ever ran (Cloud Run refuses deliveries when a function is at its instance limit):
        the job fails with the last error and how to replay it."""
        cause = last_error or "the function never answered (instance limit, crash or timeout)"
        reason = (
            f"{self.stage} did not finish after {deliveries} deliveries: {cause}; "
            f"once the cause is fixed, replay it: svp replay --job {job_id}"
        )
        now = time.time()

        def mutation(doc: jobs.Doc | None):
            updated, action = jobs.dead_lettered(doc, self.stage, reason, now=now)
            return updated, (action, updated or doc)

        action, job = self._update(job_id, mutation)
        with log_context(job_id=job_id, stage=self.stage):
            if action == "failed":
                log.error("job failed: %s", reason, extra={"event": "job.failed", "reason": reason})
                self._show(job_id)
            elif action == "republish":
                self.publish_next(job, self.stage)
        return action

    def publish_next(self, job: jobs.Doc, stage: str) -> None:
        """Publish the message `stage`'s completion sends on, if the job is ready for it."""
        if jobs.next_ready(job, stage):
            self.runtime.publish_from(stage, message_after(job, stage))


def message_after(job: jobs.Doc, stage: str) -> JobMessage:
    """The message `stage` (or the poller) publishes when it is done with `job`."""
    artifacts = (jobs.output_of(job, stage).get("artifacts") or {}) if stage != "poller" else {}
    return JobMessage(job["job_id"], stage, dict(artifacts), replays=job.get("replays", 0))


def redrive(runtime: Runtime, job: jobs.Doc, stage: str) -> None:
    """Publish `stage`'s input again (its upstream's message): the stage runs anew."""
    source = UPSTREAM[stage]
    runtime.publish_from(source, message_after(job, source))


def let_children_in(folder: Path, user: tuple[int, int] | None) -> None:
    """A root stage's children run as `user` (svp.media.children) and read and write in its
    scratch folder by name: its group may enter it, list nothing, and no one else may enter."""
    if user and os.geteuid() == 0:
        os.chown(folder, -1, user[1])
        os.chmod(folder, 0o710)
