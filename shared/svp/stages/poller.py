"""Poller: finds pending links in every Link Database and queues each one exactly once."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from svp.errors import StageError
from svp.messages import JobMessage
from svp.notion.gateway import NotionRequestError
from svp.notion.links import LinkEntry, pending_filter, read_entry
from svp.notion.linkschema import REPROCESS
from svp.notion.registry import LOCAL_USER, Registry
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.linkstatus import report_status
from svp.summary.targets import target_for_tag

log = logging.getLogger("svp.poller")
PARALLEL_DATABASES = 4


@dataclass
class PollReport:
    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merge(self, other: PollReport) -> None:
        self.queued += other.queued
        self.failed += other.failed
        self.duplicates += other.duplicates
        self.skipped += other.skipped
        self.errors += other.errors


def poll(runtime: Runtime) -> PollReport:
    """Poll every Link Database: the configured integration's and each signed-in user's."""
    from svp.accounts import users

    report = PollReport()
    work: list[tuple[str, str]] = []
    if runtime.notion is not None:
        work += [(LOCAL_USER, ref) for ref in Registry(runtime).link_databases()]
    for user in users(runtime):
        if not user.get("needs_reconnect"):
            work += [(user["user_id"], ref) for ref in
                     Registry(runtime, user["user_id"]).link_databases()]  # fmt: skip
    if not work:
        report.errors.append(
            "no Link Database to poll: set NOTION_TOKEN and run `svp register link-db URL`, "
            "or connect Notion through the API"
        )
        log.warning(report.errors[-1])
    # Polled side by side: a slow, failing or rate-limited database (or user) does not hold
    # up the others; each token has its own rate limiter.
    with ThreadPoolExecutor(max(1, min(PARALLEL_DATABASES, len(work)))) as pool:
        for result in pool.map(lambda item: poll_database(runtime, *item), work):
            report.merge(result)
    log.info(
        "poll done: %d queued, %d failed, %d duplicates, %d already known",
        len(report.queued), len(report.failed), len(report.duplicates), report.skipped,
        extra={"event": "poll.done"},
    )  # fmt: skip
    return report


def poll_database(runtime: Runtime, user: str, database: str) -> PollReport:
    report = PollReport()
    notion = runtime.notion_for(user)
    assert notion is not None
    try:
        source = notion.data_source_id(database)
        schema = notion.schema(source)
        for page in notion.query(source, pending_filter(schema)):
            entry = read_entry(page, source)
            enqueue(runtime, entry, page.get("last_edited_time"), report, user)
    except (StageError, ValueError) as exc:
        report.errors.append(f"Link Database {database}: {exc}")
        log.error(report.errors[-1], extra={"labels": {"user": user}})
        if isinstance(exc, NotionRequestError) and exc.status == 401 and user != LOCAL_USER:
            from svp.accounts import mark_needs_reconnect

            mark_needs_reconnect(runtime, user, exc.reason)
            runtime.forget_notion(user)
    return report


def enqueue(
    runtime: Runtime,
    entry: LinkEntry,
    edited: str | None,
    report: PollReport,
    user: str = LOCAL_USER,
) -> None:
    job_id = entry.page_id.replace("-", "")
    link = {"url": entry.url, "tag": entry.tag, "page_id": entry.page_id,
            "data_source_id": entry.data_source_id,
            "reprocess": entry.processing_type == REPROCESS}  # fmt: skip
    if user != LOCAL_USER:
        link["user"] = user
    now = time.time()
    try:
        if not entry.url:
            raise StageError("the link has no url: fill the 'url' property")
        if not entry.tag:
            raise StageError("the link has no tag: choose one in the 'tag' property")
        target = target_for_tag(runtime, entry.tag, user=user)
    except StageError as exc:
        failed = {**jobs.new_job(job_id, link, {}, now), "status": "failed", "error": exc.reason}
        runtime.state.put(jobs.JOBS, job_id, failed)
        report_status(runtime, failed, "failed", error=exc.reason)
        report.failed.append(job_id)
        return

    fresh = jobs.new_job(job_id, link, target, now)
    job = _claim(runtime, fresh, edited, report)
    if job is None:
        return
    reuse = job is fresh and entry.processing_type != REPROCESS
    if reuse and (earlier := _earlier_result(runtime, fresh)):
        _point_at(runtime, fresh, earlier, report)
        return
    # Publishing again after a crash is safe: the downloader's claim ignores duplicates.
    runtime.publish_from("poller", JobMessage(job_id, "poller", replays=job.get("replays", 0)))
    runtime.state.update(jobs.JOBS, job_id,
                         lambda d: jobs.set_fields(d, time.time(), published=True))  # fmt: skip
    report_status(runtime, job, "queued")
    report.queued.append(job_id)


def _claim(
    runtime: Runtime, fresh: jobs.Doc, edited: str | None, report: PollReport
) -> jobs.Doc | None:
    """The job to publish: a new one, a restarted one, or one a crashed poll never published.
    None when the link is already known and moving."""
    job_id = fresh["job_id"]
    if runtime.state.create(jobs.JOBS, job_id, fresh):
        return fresh
    existing = runtime.state.get(jobs.JOBS, job_id) or fresh
    if existing["status"] in ("done", "failed") and _edited_after(edited, existing["updated_at"]):
        # The person set the link back to pending: process it again.
        restarted = {**fresh, "replays": existing.get("replays", 0) + 1}
        runtime.state.put(jobs.JOBS, job_id, restarted)
        return restarted
    if existing.get("published"):
        # Notion just missed a status update: show the real one.
        page_url = (existing.get("result") or {}).get("page_url", "")
        report_status(runtime, existing, existing["status"], error=existing.get("error"),
                      page_url=page_url)  # fmt: skip
        report.skipped += 1
        return None
    return existing


def _earlier_result(runtime: Runtime, job: jobs.Doc) -> jobs.Doc | None:
    """A finished job for the same video (any link entry), whose page can be reused."""
    if not job["url_key"]:
        return None
    # Only the same person's jobs: another user's page is in a workspace this one cannot see.
    where = {"url_key": job["url_key"], "user": job["user"], "status": "done"}
    for other in runtime.state.list(jobs.JOBS, where=where, limit=5):
        if other["job_id"] != job["job_id"] and (other.get("result") or {}).get("page_url"):
            return other
    return None


def _point_at(runtime: Runtime, job: jobs.Doc, earlier: jobs.Doc, report: PollReport) -> None:
    result = {**earlier["result"], "duplicate_of": earlier["job_id"]}
    runtime.state.update(jobs.JOBS, job["job_id"], lambda d: jobs.set_fields(
        d, time.time(), status="done", result=result, published=True))  # fmt: skip
    report_status(runtime, job, "done", page_url=result["page_url"])
    log.info("already processed in job %s: pointed at its page", earlier["job_id"],
             extra={"labels": {"job_id": job["job_id"]}})  # fmt: skip
    report.duplicates.append(job["job_id"])


def _edited_after(edited: str | None, updated_at: str) -> bool:
    if not edited:
        return False
    try:
        return datetime.fromisoformat(edited.replace("Z", "+00:00")) > datetime.fromisoformat(
            updated_at
        )
    except ValueError:
        return False
