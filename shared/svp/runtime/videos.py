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

from svp import limits
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


def late_window() -> float:
    """How long after an attempt recorded its intent its page may still appear in Notion: the
    writer's own deadline, and as long again for a creation sent to Notion at that deadline
    (Notion may apply a request whose sender was killed or gave up on it)."""
    return 2 * limits.deadline_seconds("writer")


def begin_page(state: StateStore, key: str, index: int, intent: dict, now: float) -> dict | None:
    """Record that page `index` is about to be created by the attempt `intent` names. Returns
    what is known of it already: the page recorded since the caller last looked (`{"page":
    {...}}`: update it), or the intent of an earlier attempt that never recorded its page (with
    the earliest such attempt's `since`: its page may exist, look for it before creating), else
    None. An earlier attempt's intent is kept in `tried`: its page may still appear later, and
    the claim's sweep (`sweep_at`, svp.stages.late_pages) moves such a page to the trash."""

    def mark(doc: dict | None):
        if doc is None:
            return None, None
        pages = doc.get("pages") or []
        if index < len(pages) and pages[index].get("id"):
            return None, {"page": pages[index]}
        intents = dict(doc.get("intents") or {})
        tried = list(doc.get("tried") or [])
        if (earlier := intents.get(str(index))) is not None:
            tried.append({**earlier, "index": index})
        intents[str(index)] = intent
        doc = {**doc, "key": key, "intents": intents, "tried": tried, "updated_at": jobs.iso(now)}
        doc["sweep_at"] = max(doc.get("sweep_at") or 0.0, now + late_window())
        before = [t for t in tried if t["index"] == index]
        if not before:
            return doc, None
        return doc, {**before[-1], "since": min(t["since"] for t in before)}

    return state.update(VIDEOS, key, mark)


def record_page(
    state: StateStore, key: str, index: int, page: dict, now: float, attempt: str = ""
) -> bool:
    """The claim's page `index` exists: later writes of this video update it. False, recording
    nothing, when another page is recorded there already (two attempts raced to create it: the
    caller's page is the extra one). `attempt`: the recording attempt's, as in its intent; an
    intent of another attempt still open for this page goes to `tried`, for the sweep."""

    def keep(doc: dict | None):
        if doc is None:
            return None, False
        doc = copy.deepcopy(doc)
        pages = doc.setdefault("pages", [])
        pages.extend({} for _ in range(index + 1 - len(pages)))
        if pages[index].get("id") not in (None, page["id"]):
            return None, False
        pages[index] = page
        intents = doc.get("intents") or {}
        open_intent = intents.pop(str(index), None)
        if open_intent is not None and open_intent.get("attempt") != attempt:
            doc.setdefault("tried", []).append({**open_intent, "index": index})
        if not intents and not doc.get("tried"):
            doc["sweep_at"] = None  # every attempt ended with its page known: nothing to sweep
        doc["updated_at"] = jobs.iso(now)
        return doc, True

    return state.update(VIDEOS, key, keep)


# -- the sweep: pages an attempt made after another had taken its place ---------------------
def open_until(doc: dict) -> float:
    """Until when an attempt still at work on one of the claim's pages may create it (0: none
    may)."""
    ends = [jobs.timestamp(i["since"]) + late_window() for i in (doc.get("intents") or {}).values()]
    return max(ends, default=0.0)


def abandoned(doc: dict) -> list[dict]:
    """The intents of attempts that can no longer create a page but may have made one nobody
    recorded: the tried ones, and those of attempts that ended without recording (a job that
    failed, a worker killed with no attempt after it)."""
    current = [{**i, "index": int(n)} for n, i in (doc.get("intents") or {}).items()]
    return list(doc.get("tried") or []) + current


def recorded(doc: dict | None) -> set[str]:
    return {p["id"] for p in (doc or {}).get("pages") or [] if p.get("id")}


def swept(doc: dict | None, done: list[dict], now: float) -> tuple[dict | None, None]:
    """Forget the intents a sweep looked for; the sweep is over unless newer ones arrived."""
    if doc is None:
        return None, None
    gone = {(i["index"], i["since"], i.get("attempt")) for i in done}

    def kept(intent: dict, index: int) -> bool:
        return (index, intent["since"], intent.get("attempt")) not in gone

    tried = [t for t in doc.get("tried") or [] if kept(t, t["index"])]
    intents = {n: i for n, i in (doc.get("intents") or {}).items() if kept(i, int(n))}
    doc = {**doc, "tried": tried, "intents": intents, "updated_at": jobs.iso(now)}
    doc["sweep_at"] = (open_until(doc) or now) if tried or intents else None
    doc.pop("sweep_tries", None)
    return doc, None


def defer_sweep(
    doc: dict | None, until: float, tries: int | None = None
) -> tuple[dict | None, None]:
    """Sweep later; `tries`: the sweeps that failed so far (kept until one succeeds)."""
    if doc is None or doc.get("sweep_at") is None:
        return None, None
    doc = {**doc, "sweep_at": until}
    if tries is not None:
        doc["sweep_tries"] = tries
    return doc, None
