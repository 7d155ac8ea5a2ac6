"""The job document and its transitions, as pure functions run inside state-store transactions.

A job is one Notion link entry (or one `svp process` item). The invariant: every job ends
`done` (its result points at its page) or `failed` (with a reason), and the link's row in
Notion shows that end. The transitions below keep it, for every store (Firestore may re-run
them when a transaction is contended, so they never mutate their input):

- A stage runs under a *claim*: a fencing token, a lease the worker's heartbeat renews, and a
  deadline from the stage's time limit (svp.limits). `complete`, `release`, `fail` and
  `heartbeat` apply only with the current token, so a worker that lost its lease can neither
  overwrite its successor's result nor reset its stage.
- A stage whose lease ran out is `expire`d by the reconciler: re-driven while attempts remain,
  else failed with a reason. A dead-lettered message fails its job the same way.
- The job carries an outbox for Notion: `notion.want` counts status changes, `notion.sent`
  the last one Notion confirmed. The job stays `open` until it has ended *and* Notion shows
  that.
- Every transition recomputes `check_at`: when the reconciler must next look at the job (a
  lease runs out, a status waits to be shown, a queued job was never published, a waiting
  job's owner ended), or null while it needs nothing. The reconciler reads only jobs whose
  `check_at` has passed (an indexed range query), so a job that needs nothing costs nothing.
- Stored documents carry `schema` (SCHEMA); `upgrade` reads older ones (`svp migrate` stores
  them upgraded): version 1, before this field, may lack `open`, the `notion` outbox,
  `published`, `video` and `check_at`.
- `active_until` says until when a job takes room in the pipeline (svp.runtime.room).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from svp import limits
from svp.config import LOCAL_USER
from svp.ports import Doc
from svp.topology import JOIN, OUTPUT_TOPIC, PIPELINE, STATUS_LABEL

JOBS = "jobs"
# Firestore's TTL policy (terraform/firestore.tf) deletes a job document this long after it
# was (re)queued; locally nothing is deleted.
RETENTION_SECONDS = 30 * 24 * 3600
TERMINAL = ("done", "failed")
# A job that waits for another job processing the same video (svp.runtime.videos).
WAITING = "waiting"
ClaimOutcome = Literal["run", "done", "busy", "closed", "missing", "owed"]
# Version of the job document (`schema`); documents without it are version 1.
SCHEMA = 2
# A status is worth showing once the job has stayed in it this long (the runner's
# SHOW_STATUS_AFTER_SECONDS): the reconciler looks at an unshown status after it.
SHOW_AFTER_SECONDS = 2.0
# A waiting job is woken by its owner's end (`waiters`); as a backstop (the owner vanished)
# it is looked at again after this, doubling up to WAIT_RECHECK_MAX_SECONDS.
WAIT_RECHECK_SECONDS = 120.0
WAIT_RECHECK_MAX_SECONDS = 1800.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def new_job(job_id: str, link: Doc, target: Doc, now: float, video: str | None = None) -> Doc:
    """`link`: url, tag, and where it came from (Notion page and data source, or a file);
    `video`: the video's identity when known before downloading (svp.media.identity)."""
    doc = {
        "job_id": job_id,
        "user": link.get("user", LOCAL_USER),
        "link": link,
        "target": target,
        "video": video,
        "status": "queued",
        "error": None,
        "result": None,
        "replays": 0,
        "published": False,
        "notion": {"want": 1, "sent": 0},
        "schema": SCHEMA,
        "created_at": iso(now),
        "updated_at": iso(now),
        "expire_at": iso(now + RETENTION_SECONDS),
        "stages": {stage: {"state": "pending", "attempts": 0} for stage in PIPELINE},
    }
    return _settle(doc)


def restart(doc: Doc, fresh: Doc) -> Doc:
    """The person asked for the link again: a new run of the same job, one replay further,
    keeping the Notion outbox counters (so the new status is sent)."""
    counters = doc.get("notion") or {"want": 0, "sent": 0}
    restarted = copy.deepcopy(fresh)
    restarted.update(
        # Jobs waiting for this one's video still wait for it.
        waiters=list(doc.get("waiters") or []),
        replays=doc.get("replays", 0) + 1,
        notion={"want": max(counters["want"], counters["sent"]) + 1, "sent": counters["sent"]},
        created_at=doc.get("created_at", fresh["created_at"]),
    )
    return _settle(restarted)


def admit_link(doc: Doc | None, fresh: Doc) -> tuple[Doc | None, tuple[str, Doc]]:
    """The poller found the link pending. "new": first time; "restarted": it had ended and
    Notion showed that end, so a person set it back to pending; "unsynced": it ended but
    Notion never confirmed it (the row still shows pending because our writes failed), so the
    end is shown again rather than redone; "unpublished": a poll crashed before publishing
    it; "known": it is on its way."""
    if doc is None:
        return fresh, ("new", fresh)
    doc = upgrade(doc)
    if is_terminal(doc):
        if synced(doc):
            restarted = restart(doc, fresh)
            return restarted, ("restarted", restarted)
        return None, ("unsynced", doc)
    if doc["status"] == "queued" and not doc.get("published"):
        return None, ("unpublished", doc)
    return None, ("known", doc)


def resend(doc: Doc | None, *, now: float) -> tuple[Doc | None, None]:
    """Notion shows something else than the job's status (a stale write landed late): send it
    again."""
    if doc is None:
        return None, None
    doc = upgrade(doc)  # a copy
    doc["notion"]["want"] = max(doc["notion"]["want"], doc["notion"]["sent"]) + 1
    return _touch(doc, now), None


def is_terminal(doc: Doc) -> bool:
    return doc["status"] in TERMINAL


def synced(doc: Doc) -> bool:
    """Notion already shows the job's latest status."""
    counters = doc.get("notion") or {}
    return counters.get("sent", 0) >= counters.get("want", 0)


def ended_and_shown(doc: Doc) -> bool:
    """The job ended and Notion shows that end: a row read as pending since was set back."""
    return is_terminal(doc) and synced(doc)


def _settle(doc: Doc) -> Doc:
    """Recompute the fields the reconciler's queries read (every transition ends here)."""
    doc["open"] = not ended_and_shown(doc) or bool(doc.get("waiters"))
    doc["schema"] = SCHEMA
    due = due_at(doc)
    if due is None:
        doc.pop("not_before", None)
    elif doc.get("not_before"):
        due = max(due, doc["not_before"])
    doc["check_at"] = due
    doc["active_until"] = _active_until(doc)
    return doc


def _active_until(doc: Doc) -> float | None:
    """Until when the job counts as taking room in the pipeline (svp.runtime.room): while it
    moves (not ended, not waiting for another job), up to a stage's deadline past its last
    sign of life, so that a job lost to an outage cannot hold its room for ever."""
    if is_terminal(doc) or doc["status"] == WAITING:
        return None
    alive = [timestamp(doc.get("updated_at"))]
    alive += [
        record.get("lease_until") or 0.0
        for record in doc["stages"].values()
        if record["state"] == "running"
    ]
    return max(alive) + limits.longest_deadline_seconds()


def due_at(doc: Doc) -> float | None:
    """When the reconciler must next look at the job, or None while it needs nothing."""
    changed = timestamp(doc.get("updated_at"))
    times = []
    if is_terminal(doc):
        if doc.get("waiters"):  # jobs waiting for this one's video move on now
            times.append(changed)
    else:
        times += [
            record.get("lease_until") or 0.0
            for record in doc["stages"].values()
            if record["state"] == "running"
        ]
        if doc["status"] == "queued" and not doc.get("published"):
            times.append(changed + SHOW_AFTER_SECONDS)
        if doc["status"] == WAITING:
            times.append(doc.get("wake_at") or changed)
    if not synced(doc):
        times.append(changed if is_terminal(doc) else changed + SHOW_AFTER_SECONDS)
    return min(times) if times else None


def timestamp(text: Any) -> float:
    """An ISO time as epoch seconds; 0 when absent or unreadable."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return 0.0


def upgrade(doc: Doc) -> Doc:
    """A copy of a job document of any stored version, in the current one. Version 1 jobs
    (before `schema`) may lack the outbox: one that ended is taken as shown (its worker
    wrote the status itself), one in flight as not yet shown; one queued is taken as
    published (the poller published in the same step)."""
    doc = copy.deepcopy(doc)
    if doc.get("schema", 1) >= SCHEMA:
        return doc
    ended = is_terminal(doc)
    doc.setdefault("notion", {"want": 1, "sent": 1 if ended else 0})
    doc.setdefault("published", True)
    doc.setdefault("replays", 0)
    doc.setdefault("video", None)
    doc.setdefault("error", None)
    doc.setdefault("result", None)
    for record in doc.get("stages", {}).values():
        record.setdefault("attempts", 0)
    return _settle(doc)


def _set_status(doc: Doc, status: str) -> None:
    if doc["status"] != status:
        doc["status"] = status
        counters = doc.setdefault("notion", {"want": 0, "sent": 0})
        counters["want"] = counters.get("want", 0) + 1


def _touch(doc: Doc, now: float) -> Doc:
    doc["updated_at"] = iso(now)
    return _settle(doc)


# -- claims ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    job: Doc | None
    attempt: int = 0


def claim(
    doc: Doc | None,
    stage: str,
    *,
    now: float,
    token: str,
    lease: float,
    deadline: float,
    worker: str,
    replays: int = 0,
) -> tuple[Doc | None, Claim]:
    """Lease `stage` of the job to `worker` under `token`, unless it is done or leased, or the
    job is closed. `lease` and `deadline` are seconds from now."""
    if doc is None:
        return None, Claim("missing", None)
    doc = upgrade(doc)
    record = doc["stages"][stage]
    if record["state"] == "done":
        return None, Claim("done", doc)
    if (
        doc["status"] == "failed"
        and record.get("dead_letter") == "owed"
        and replays <= doc.get("replays", 0)
    ):
        # The stage gave up and its message has not reached the dead-letter store yet.
        return None, Claim("owed", doc)
    if doc["status"] == "failed" and replays > doc.get("replays", 0):
        doc = _reopen(doc, replays)
    elif doc["status"] in (*TERMINAL, WAITING):
        # A stale message of a finished or waiting job: its next run is published afresh.
        return None, Claim("closed", doc)
    elif record["state"] == "running" and record.get("lease_until", 0) > now:
        return None, Claim("busy", doc)

    doc = copy.deepcopy(doc)
    record = doc["stages"][stage]
    record.update(
        state="running",
        attempts=record["attempts"] + 1,
        token=token,
        lease_until=now + min(lease, deadline),
        deadline=now + deadline,
        worker=worker,
        started_at=iso(now),
        started_ts=now,
    )
    _set_status(doc, STATUS_LABEL[stage])
    _touch(doc, now)
    return doc, Claim("run", doc, record["attempts"])


def _reopen(doc: Doc, replays: int) -> Doc:
    """A replayed message revives a failed job: failed stages become pending again."""
    doc = copy.deepcopy(doc)
    doc.update(error=None, replays=replays)
    _set_status(doc, "queued")
    for record in doc["stages"].values():
        if record["state"] in ("failed", "running"):
            record.update(state="pending", lease_until=0, token=None)
        record.pop("dead_letter", None)  # replayed: it was taken from the dead-letter store
    return doc


def holds(doc: Doc | None, stage: str, token: str) -> bool:
    if doc is None:
        return False
    record = doc["stages"][stage]
    return record["state"] == "running" and record.get("token") == token


def heartbeat(
    doc: Doc | None, stage: str, token: str, *, now: float, lease: float
) -> tuple[Doc | None, bool]:
    """Renew the lease (never past the deadline). False when the token lost the stage."""
    if not holds(doc, stage, token) or doc["stages"][stage].get("lease_until", 0) <= now:
        return None, False
    doc = copy.deepcopy(doc)
    record = doc["stages"][stage]
    record["lease_until"] = min(now + lease, record.get("deadline", now + lease))
    return _settle(doc), True


def complete(
    doc: Doc | None, stage: str, token: str, output: Doc, *, now: float
) -> tuple[Doc | None, Doc | None]:
    """Mark `stage` done with its output; hands back the updated job, or None when `token`
    no longer holds the stage (its result is discarded). Whether to publish next is
    `next_ready(job, stage)`, decided on this committed state."""
    if not holds(doc, stage, token):
        return None, None
    doc = copy.deepcopy(doc)
    record = doc["stages"][stage]
    started = record.get("started_ts", now)
    record.update(
        state="done",
        output=output,
        error=None,
        token=None,
        lease_until=0,
        finished_at=iso(now),
        duration_ms=int((now - started) * 1000),
    )
    if stage == PIPELINE[-1]:
        doc["result"] = output
        _set_status(doc, "done")
    return _touch(doc, now), doc


def next_ready(doc: Doc, stage: str) -> bool:
    """True when `stage` is done and, for a join, every stage joined with it is done too, and
    the job still moves on (not waiting for another job, not ended)."""
    topic = OUTPUT_TOPIC.get(stage)
    if topic is None or doc["status"] in (*TERMINAL, WAITING):
        return False
    joined = JOIN.get(topic, (stage,))
    return all(doc["stages"][s]["state"] == "done" for s in joined)


def fail(
    doc: Doc | None,
    stage: str | None,
    reason: str,
    *,
    now: float,
    token: str | None = None,
    dead_letter: bool = False,
) -> tuple[Doc | None, bool]:
    """End the job as failed. With `token`, only while that token holds `stage`. With
    `dead_letter`, the stage's message is owed to the dead-letter store until
    `dead_letter_stored` (a redelivery stores it again rather than being dropped)."""
    if doc is None or is_terminal(doc) or (token is not None and not holds(doc, stage, token)):
        return None, False
    doc = copy.deepcopy(doc)
    if stage is not None:
        doc["stages"][stage].update(
            state="failed", error=reason, token=None, lease_until=0, finished_at=iso(now)
        )
        if dead_letter:
            doc["stages"][stage]["dead_letter"] = "owed"
    doc.update(error=reason, failed_stage=stage)
    _set_status(doc, "failed")
    return _touch(doc, now), True


def dead_letter_stored(doc: Doc | None, stage: str) -> tuple[Doc | None, None]:
    if doc is None or doc["stages"][stage].get("dead_letter") != "owed":
        return None, None
    doc = copy.deepcopy(doc)
    doc["stages"][stage]["dead_letter"] = "stored"
    return doc, None


def release(
    doc: Doc | None, stage: str, token: str, error: str, *, now: float
) -> tuple[Doc | None, bool]:
    """Give the lease back after a transient error so the redelivery can claim it at once."""
    if not holds(doc, stage, token):
        return None, False
    doc = copy.deepcopy(doc)
    doc["stages"][stage].update(state="pending", error=error, token=None, lease_until=0)
    return _touch(doc, now), True


def expire(
    doc: Doc | None, stage: str, *, now: float, max_attempts: int
) -> tuple[Doc | None, str | None]:
    """A running stage whose lease ran out (its worker crashed, was killed or hangs past its
    deadline): "redrive" (back to pending, the caller publishes its input again) or "failed".
    None when nothing expired."""
    if doc is None or is_terminal(doc):
        return None, None
    record = doc["stages"][stage]
    if record["state"] != "running" or record.get("lease_until", 0) > now:
        return None, None
    attempts = record["attempts"]
    if attempts >= max_attempts:
        reason = (
            f"stopped responding during {STATUS_LABEL[stage]} after {attempts} attempts "
            "(the worker crashed, was killed or timed out)"
        )
        return fail(doc, stage, reason, now=now)[0], "failed"
    doc = copy.deepcopy(doc)
    doc["stages"][stage].update(
        state="pending", token=None, lease_until=0, error="the worker stopped responding"
    )
    return _touch(doc, now), "redrive"


def dead_lettered(
    doc: Doc | None, stage: str, reason: str, *, now: float
) -> tuple[Doc | None, str]:
    """A message of `stage` reached the dead-letter store. "failed" when that ended the job;
    "republish" when the stage had in fact finished (its next message may be missing);
    "ignored" when the job already ended or a live worker holds the stage."""
    if doc is None or is_terminal(doc):
        return None, "ignored"
    record = doc["stages"][stage]
    if record["state"] == "done":
        return None, "republish"
    if record["state"] == "running" and record.get("lease_until", 0) > now:
        return None, "ignored"
    return fail(doc, stage, reason, now=now)[0], "failed"


# -- the Notion outbox -------------------------------------------------------------------------
def shown_status(doc: Doc) -> str:
    """What the link's row shows: a waiting job is still queued there; a page written without
    an LLM or with values dropped says it needs review."""
    if doc["status"] == WAITING:
        return "queued"
    if doc["status"] == "done" and (doc.get("result") or {}).get("needs_review"):
        return "done (needs review)"
    return doc["status"]


def shown_note(doc: Doc) -> str | None:
    """The text the link's row shows beside its status: the error, or why to review."""
    if doc["status"] == "failed":
        return doc.get("error")
    review = (doc.get("result") or {}).get("review") if doc["status"] == "done" else None
    return f"needs review: {review}" if review else None


def mark_sent(doc: Doc | None, want: int, *, now: float) -> tuple[Doc | None, None]:
    """Notion confirmed the status of outbox position `want`."""
    if doc is None or (doc.get("notion") or {}).get("sent", 0) >= want:
        return None, None
    doc = upgrade(doc)
    doc["notion"]["sent"] = want
    return _settle(doc), None


def set_fields(doc: Doc | None, now: float, **fields: Any) -> tuple[Doc | None, None]:
    """Top-level fields other than the status (any document with an `updated_at`)."""
    if doc is None:
        return None, None
    updated = {**doc, **fields, "updated_at": iso(now)}
    return (_settle(upgrade(updated)) if "stages" in updated else updated), None


def set_status(
    doc: Doc | None, status: str, *, now: float, **fields: Any
) -> tuple[Doc | None, Doc | None]:
    """Change the job's status (and other top-level fields), counting it in the outbox."""
    if doc is None:
        return None, None
    doc = copy.deepcopy(doc)
    doc.update(fields)
    _set_status(doc, status)
    _touch(doc, now)
    return doc, doc


def wait_longer(doc: Doc | None, *, now: float) -> tuple[Doc | None, None]:
    """A waiting job whose owner is still at work: look again later, doubling the pause.
    Its `updated_at` stays: nothing happened to it."""
    if doc is None or doc["status"] != WAITING:
        return None, None
    doc = upgrade(doc)
    checks = doc.get("wait_checks", 0)
    pause = min(WAIT_RECHECK_MAX_SECONDS, WAIT_RECHECK_SECONDS * 2**checks)
    doc.update(wake_at=now + pause, wait_checks=checks + 1)
    return _settle(doc), None


def add_waiter(doc: Doc | None, waiter: str) -> tuple[Doc | None, bool]:
    """`waiter` waits for this job's video: its end wakes it. False when this job has
    already ended (the waiter should look again at once) or is gone."""
    if doc is None:
        return None, False
    if is_terminal(doc):
        return None, False
    if waiter in (doc.get("waiters") or []):
        return None, True
    doc = upgrade(doc)
    doc["waiters"] = [*(doc.get("waiters") or []), waiter]
    return _settle(doc), True


def drop_waiters(doc: Doc | None, woken: list[str]) -> tuple[Doc | None, None]:
    """The reconciler woke `woken` after this job ended."""
    if doc is None or not set(woken) & set(doc.get("waiters") or []):
        return None, None
    doc = upgrade(doc)
    doc["waiters"] = [w for w in doc["waiters"] if w not in woken]
    return _settle(doc), None


def defer(doc: Doc | None, until: float) -> tuple[Doc | None, None]:
    """The reconciler could not move the job now (Notion refused its status): look at it
    again after `until`, behind the jobs due before then."""
    if doc is None or doc.get("check_at") is None:
        return None, None
    doc = upgrade(doc)
    doc["not_before"] = until
    return _settle(doc), None


def output_of(job: Doc, stage: str) -> Doc:
    return job["stages"][stage].get("output") or {}
