"""Poller: finds pending links in every Link Database and queues each one exactly once."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from svp.errors import StageError
from svp.messages import JobMessage
from svp.notion.links import LinkEntry, pending_filter, read_entry
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.runtime.linkstatus import report_status
from svp.summary.targets import target_for_tag

log = logging.getLogger("svp.poller")


@dataclass
class PollReport:
    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def poll(runtime: Runtime) -> PollReport:
    report = PollReport()
    notion = runtime.notion
    if notion is None:
        report.errors.append("NOTION_TOKEN is not set: nothing to poll")
        log.warning(report.errors[-1])
        return report
    for database in runtime.settings.link_databases:
        # One database's trouble (access revoked, outage) must not stop the others.
        try:
            source = notion.data_source_id(database)
            schema = notion.schema(source)
            for page in notion.query(source, pending_filter(schema)):
                enqueue(runtime, read_entry(page, source), page.get("last_edited_time"), report)
        except (StageError, ValueError) as exc:
            report.errors.append(f"Link Database {database}: {exc}")
            log.error(report.errors[-1])
    log.info(
        "poll done: %d queued, %d failed, %d already known",
        len(report.queued),
        len(report.failed),
        report.skipped,
        extra={"event": "poll.done"},
    )
    return report


def enqueue(runtime: Runtime, entry: LinkEntry, edited: str | None, report: PollReport) -> None:
    job_id = entry.page_id.replace("-", "")
    link = {
        "url": entry.url,
        "tag": entry.tag,
        "page_id": entry.page_id,
        "data_source_id": entry.data_source_id,
    }
    now = time.time()
    try:
        if not entry.url:
            raise StageError("the link has no url: fill the 'url' property")
        if not entry.tag:
            raise StageError("the link has no tag: choose one in the 'tag' property")
        target = target_for_tag(runtime, entry.tag)
    except StageError as exc:
        failed = {**jobs.new_job(job_id, link, {}, now), "status": "failed", "error": exc.reason}
        runtime.state.put(jobs.JOBS, job_id, failed)
        report_status(runtime, failed, "failed", error=exc.reason)
        report.failed.append(job_id)
        return

    fresh = jobs.new_job(job_id, link, target, now)
    if runtime.state.create(jobs.JOBS, job_id, fresh):
        job = fresh
    else:
        job = runtime.state.get(jobs.JOBS, job_id) or fresh
        if job["status"] in ("done", "failed") and _edited_after(edited, job["updated_at"]):
            # The person set the link back to pending: process it again.
            job = {**fresh, "replays": job.get("replays", 0) + 1}
            runtime.state.put(jobs.JOBS, job_id, job)
        elif job.get("published"):
            # Known and moving: Notion just missed a status update. Show the real one.
            report_status(
                runtime,
                job,
                job["status"],
                error=job.get("error"),
                page_url=(job.get("result") or {}).get("page_url", ""),
            )
            report.skipped += 1
            return
    # Publishing again after a crash is safe: the downloader's claim ignores duplicates.
    runtime.publish_from("poller", JobMessage(job_id, "poller", replays=job.get("replays", 0)))
    runtime.state.update(
        jobs.JOBS, job_id, lambda d: jobs.set_fields(d, time.time(), published=True)
    )
    report_status(runtime, job, "queued")
    report.queued.append(job_id)


def _edited_after(edited: str | None, updated_at: str) -> bool:
    if not edited:
        return False
    try:
        return datetime.fromisoformat(edited.replace("Z", "+00:00")) > datetime.fromisoformat(
            updated_at
        )
    except ValueError:
        return False
