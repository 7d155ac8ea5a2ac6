"""One page per video: a transactional claim per (person, Content Database, video).

The first job of a video owns its claim and writes its page; the claim records that page.
Another job of the same video (the same URL twice, another URL form, a short link resolved
by the download) does not process it again: while the owner runs it *waits*; once the owner is
done it *points* at the owner's page, or, asked to reprocess, runs and updates that page; if
the owner failed, it *takes over* the claim. A restarted owner keeps its claim, so it updates
its own page instead of making a second one.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from svp.ports import StateStore
from svp.runtime import jobs

VIDEOS = "videos"
Verdict = Literal["own", "wait", "point", "reprocess"]


def claim_key(job: jobs.Doc, video: str) -> str | None:
    """The claim's document key, or None for jobs that write no Notion page (`svp process`)."""
    source = job["target"].get("data_source_id")
    if not source:
        return None
    identity = f"{job.get('user', 'local')}\n{source.replace('-', '')}\n{video}"
    return hashlib.sha256(identity.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    owner: str
    claim: dict[str, Any]


def admit(state: StateStore, job: jobs.Doc, video: str, *, now: float) -> Admission:
    """Claim `video` for `job`, or learn who has it; takes over from a failed or vanished
    owner. Records `video` on the job. Does not change the job's status."""
    key = claim_key(job, video)
    job_id = job["job_id"]
    if key is None:
        return Admission("own", job_id, {})
    state.update(jobs.JOBS, job_id, lambda d: jobs.set_fields(d, now, video=video))
    while True:
        claim = state.update(VIDEOS, key, lambda d: _take_if_free(d, job_id, video, now))
        owner = claim["owner"]
        if owner == job_id:
            return Admission("own", job_id, claim)
        other = state.get(jobs.JOBS, owner)
        owner_ended = other is None or jobs.is_terminal(other)
        if not owner_ended:
            return Admission("wait", owner, claim)
        if claim.get("pages"):
            verdict: Verdict = "reprocess" if job["link"].get("reprocess") else "point"
            return Admission(verdict, owner, claim)
        # The owner ended without a page: take over, from the owner we saw only (a concurrent
        # taker wins the race and we look again).
        state.update(VIDEOS, key, lambda d, seen=owner: _take_over(d, seen, job_id, now))


def release(state: StateStore, job: jobs.Doc, video: str, *, now: float) -> None:
    """Give up `job`'s claim on `video` if it made no page there (its key turned out to be a
    short link's: the download resolved the real video)."""
    key = claim_key(job, video)
    if key is None:
        return

    def drop(doc: dict | None):
        if doc is None or doc["owner"] != job["job_id"] or doc.get("pages"):
            return None, None
        return {**doc, "owner": "", "updated_at": jobs.iso(now)}, None

    state.update(VIDEOS, key, drop)


def _take_if_free(doc: dict | None, job_id: str, video: str, now: float):
    if doc is None:
        doc = {"owner": job_id, "video": video, "pages": [], "updated_at": jobs.iso(now)}
        return doc, doc
    if not doc["owner"]:  # released
        doc = {**doc, "owner": job_id, "updated_at": jobs.iso(now)}
        return doc, doc
    return None, doc


def _take_over(doc: dict | None, previous: str, job_id: str, now: float):
    if doc is None or doc["owner"] != previous:
        return None, None
    return {**doc, "owner": job_id, "updated_at": jobs.iso(now)}, None


def pointed_result(owner_claim: dict[str, Any], owner: str) -> dict[str, Any]:
    """The result of a job pointed at the owner's page(s)."""
    pages = owner_claim.get("pages") or []
    first = pages[0] if pages else {}
    return {
        "page_id": first.get("id", ""),
        "page_url": first.get("url", ""),
        "title": first.get("title", ""),
        "pages": pages,
        "needs_review": any(page.get("needs_review") for page in pages),
        "duplicate_of": owner,
    }


# -- the writer's side: the pages of a claim ----------------------------------------------------
def claim_of(state: StateStore, job: jobs.Doc, *, now: float) -> tuple[str | None, dict]:
    """The claim holding the job's pages (None for jobs that write no Notion page). A job
    whose video was never identified gets a claim of its own, so its page is made once."""
    video = job.get("video") or f"job:{job['job_id']}"
    key = claim_key(job, video)
    if key is None:
        return None, {}
    return key, state.update(VIDEOS, key, lambda d: _take_if_free(d, job["job_id"], video, now))


def begin_page(state: StateStore, key: str, index: int, intent: dict, now: float) -> dict | None:
    """Record that page `index` is about to be created. Returns what is known of it already: the
    page recorded since the caller last looked (`{"page": {...}}`: update it), or the intent an
    earlier attempt recorded (its page may exist: look for it before creating), else None."""

    def mark(doc: dict | None):
        if doc is None:
            return None, None
        pages = doc.get("pages") or []
        if index < len(pages) and pages[index].get("id"):
            return None, {"page": pages[index]}
        intents = dict(doc.get("intents") or {})
        earlier = intents.get(str(index))
        if earlier is None:
            intents[str(index)] = intent
            return {**doc, "intents": intents, "updated_at": jobs.iso(now)}, None
        return None, earlier

    return state.update(VIDEOS, key, mark)


def record_page(state: StateStore, key: str, index: int, page: dict, now: float) -> bool:
    """The claim's page `index` exists: later writes of this video update it. False, recording
    nothing, when another page is recorded there already (two attempts raced to create it: the
    caller's page is the extra one)."""

    def keep(doc: dict | None):
        if doc is None:
            return None, False
        doc = copy.deepcopy(doc)
        pages = doc.setdefault("pages", [])
        pages.extend({} for _ in range(index + 1 - len(pages)))
        if pages[index].get("id") not in (None, page["id"]):
            return None, False
        pages[index] = page
        (doc.get("intents") or {}).pop(str(index), None)
        doc["updated_at"] = jobs.iso(now)
        return doc, True

    return state.update(VIDEOS, key, keep)
