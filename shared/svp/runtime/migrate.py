"""`svp migrate`: bring stored documents to the current schema (svp.runtime.jobs.SCHEMA).

What a new version needs is backfilled, one document at a time, each in its own transaction:
- a job of an older version is stored upgraded (`jobs.upgrade`: the Notion outbox, `open`,
  `published`, `check_at`, its video), so the reconciler lists it and every read finds what
  it expects;
- a video claim (svp.runtime.videos) is made for each page written before video claims
  existed, from the jobs that ended `done` with a page, oldest first: the first job of a
  video owns it; a claim that already records pages is left as it is. Re-adding such a video
  then updates that page or points at it, instead of making a second one.

Idempotent and resumable: a document already current is read and left alone (no write), so a
migration that stopped halfway is finished by running it again. Video claims have had one
version; a claim without `schema` is that version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from svp.ports import StateStore
from svp.runtime import jobs, videos

log = logging.getLogger("svp.migrate")


@dataclass
class Migrated:
    jobs_seen: int = 0
    jobs_upgraded: int = 0
    claims_made: int = 0
    claims_filled: int = 0
    claims_kept: int = 0
    errors: int = 0
    planned: set[str] = field(default_factory=set)  # a dry run's claims


def migrate(
    state: StateStore, video_of: Callable[[str], str], *, dry_run: bool = False
) -> Migrated:
    """`video_of`: a URL's video identity (svp.media.identity.video_key_from_url), for jobs
    stored before the video was recorded on them."""
    report = Migrated()
    # Oldest first: the first job of a video owns its claim.
    found = sorted(state.list(jobs.JOBS), key=lambda d: (d.get("created_at") or "", d["job_id"]))
    for job in found:
        report.jobs_seen += 1
        try:
            _migrate_job(state, job, video_of, report, dry_run)
        except Exception:  # one document's trouble: the next run tries it again
            report.errors += 1
            log.exception("could not migrate job %s", job.get("job_id"))
    return report


def _migrate_job(
    state: StateStore,
    job: jobs.Doc,
    video_of: Callable[[str], str],
    report: Migrated,
    dry_run: bool,
) -> None:
    job_id = job["job_id"]
    video = job.get("video") or (video_of(job["link"]["url"]) if job["link"].get("url") else None)
    if job.get("schema", 1) < jobs.SCHEMA:
        report.jobs_upgraded += 1
        if not dry_run:
            state.update(jobs.JOBS, job_id, lambda d: _upgraded(d, video))
    pages = _pages(job)
    key = videos.claim_key(job, video) if pages and video else None
    if key is None:
        return
    now = time.time()

    def backfill(claim: dict | None):
        if claim is None:
            made = {"owner": job_id, "video": video, "pages": pages, "updated_at": jobs.iso(now)}
            return made, "made"
        if claim.get("pages"):
            return None, "kept"
        if claim.get("owner") not in ("", job_id):
            return None, "kept"  # another job owns it and will write its page
        return {**claim, "owner": job_id, "pages": pages, "updated_at": jobs.iso(now)}, "filled"

    if dry_run:  # as if the claims counted so far had been made
        outcome = "kept" if key in report.planned else backfill(state.get(videos.VIDEOS, key))[1]
        report.planned.add(key)
    else:
        outcome = state.update(videos.VIDEOS, key, backfill)
    setattr(report, f"claims_{outcome}", getattr(report, f"claims_{outcome}") + 1)


def _upgraded(doc: jobs.Doc | None, video: str | None) -> tuple[jobs.Doc | None, None]:
    if doc is None or doc.get("schema", 1) >= jobs.SCHEMA:
        return None, None
    upgraded = jobs.upgrade(doc)
    upgraded["video"] = upgraded.get("video") or video
    return upgraded, None


def _pages(job: jobs.Doc) -> list[dict]:
    """The Notion pages a job wrote (none for a job pointed at another's page)."""
    result = job.get("result") or {}
    if job.get("status") != "done" or result.get("duplicate_of") or not result.get("page_id"):
        return []
    pages = result.get("pages") or [
        {"id": result["page_id"], "url": result.get("page_url", ""), "title": result.get("title")}
    ]
    return [page for page in pages if page.get("id")]
