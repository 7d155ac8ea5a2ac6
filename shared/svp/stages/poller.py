"""Poller: finds pending links in every Link Database and queues each one exactly once.

Each poll first runs the reconciler (svp.runtime.reconciler) and trashes the pages a given-up
writer made late (svp.stages.late_pages), then, per Link Database, queues
its pending links and corrects rows that show a link in progress whose job has ended. New
links are admitted only while the pipeline has room (svp.runtime.room); the others stay
`pending`, their row showing their place in line. A
database, a person or a link that cannot be handled now is reported and left for the next
poll; only a permanent problem with a link (no URL, no such tag) fails it.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from svp.accounts import (
    NotionAccessError,
    forget_notion,
    mark_needs_reconnect,
    notion_for,
    users,
)
from svp.config import LOCAL_USER
from svp.errors import PermanentError
from svp.messages import JobMessage
from svp.notion.gateway import NotionGateway, NotionRequestError
from svp.notion.links import (
    PENDING,
    LinkEntry,
    LinkRowError,
    in_progress_filter,
    pending_filter,
    read_entry,
    shows_pending,
    update_link,
)
from svp.notion.linkschema import REPROCESS
from svp.notion.registry import Registry
from svp.notion.status import LinkStatus
from svp.runtime import jobs
from svp.runtime.admission import settle
from svp.runtime.context import Runtime
from svp.runtime.reconciler import reconcile
from svp.runtime.room import Room, capacity, place_to_show
from svp.stages import late_pages
from svp.stages.status import link_status
from svp.stages.targets import target_for_tag

log = logging.getLogger("svp.poller")
PARALLEL_DATABASES = 4
OLDEST_FIRST = [{"timestamp": "created_time", "direction": "ascending"}]
# This poll's room in the pipeline, seen by the links of every Link Database it polls.
_POLL_ROOM: ContextVar[Room | None] = ContextVar("svp_poll_room", default=None)


@dataclass
class PollReport:
    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    # Left pending for want of room in the pipeline (their rows show their place).
    held: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    # Extra pages a given-up writer made late, moved to the trash (svp.stages.late_pages).
    trashed: list[str] = field(default_factory=list)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merge(self, other: PollReport) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def poll(runtime: Runtime, status: LinkStatus | None = None) -> PollReport:
    """Reconcile, then poll every Link Database: the configured integration's and each
    signed-in person's."""
    status = status or link_status(runtime)
    report = PollReport()
    reconciled = reconcile(runtime, status)
    report.errors += reconciled.errors
    try:
        report.trashed += late_pages.sweep(runtime)
    except Exception as exc:  # the state store is unreachable: the next poll sweeps
        report.errors.append(f"could not sweep the pages made late: {exc}")
        log.exception(report.errors[-1])
    work: list[tuple[str, str]] = []
    try:
        if notion_for(runtime, LOCAL_USER) is not None:
            work += [(LOCAL_USER, ref) for ref in Registry(runtime).link_databases()]
        for user in users(runtime):
            if not user.get("needs_reconnect"):
                registry = Registry(runtime, user["user_id"])
                work += [(user["user_id"], ref) for ref in registry.link_databases()]
    except Exception as exc:  # the state store is unreachable: the next poll tries again
        report.errors.append(f"could not list the Link Databases: {exc}")
        log.exception(report.errors[-1])
        return report
    if not work:
        report.errors.append(
            "no Link Database to poll: set NOTION_TOKEN and run `svp register link-db URL`, "
            "or connect Notion through the API"
        )
        log.warning(report.errors[-1])
    # Polled side by side: a slow, failing or rate-limited database (or person) does not hold
    # up the others; each token has its own rate limiter.
    room = _room(runtime, report)
    with ThreadPoolExecutor(max(1, min(PARALLEL_DATABASES, len(work)))) as pool:
        for result in pool.map(lambda item: _in_room(room, runtime, status, *item), work):
            report.merge(result)
    log.info(
        "poll done: %d queued, %d failed, %d duplicates, %d waiting, %d already known, "
        "%d left pending for room",
        len(report.queued),
        len(report.failed),
        len(report.duplicates),
        len(report.waiting),
        report.skipped,
        len(report.held),
        extra={"event": "poll.done"},
    )
    return report


def _room(runtime: Runtime, report: PollReport) -> Room | None:
    """This poll's room in the pipeline; None (no limit) when the jobs at work cannot be
    counted now."""
    try:
        return Room(runtime.state, capacity(runtime.settings.uses_gcp))
    except Exception as exc:  # noqa: BLE001 - the state store is unreachable: admit as before
        report.errors.append(f"could not count the jobs at work: {_reason(exc)}")
        log.warning(report.errors[-1])
        return None


def _in_room(room: Room | None, *args: Any) -> PollReport:
    """poll_database, whose links share this poll's room (a context variable, so that the
    per-link code needs no extra argument)."""
    token = _POLL_ROOM.set(room)
    try:
        return poll_database(*args)
    finally:
        _POLL_ROOM.reset(token)


def poll_database(runtime: Runtime, status: LinkStatus, user: str, database: str) -> PollReport:
    report = PollReport()
    try:
        notion = notion_for(runtime, user)
        if notion is None:
            raise PermanentError("NOTION_TOKEN is not set")
        source = notion.data_source_id(database)
        schema = notion.schema(source)
        # Oldest first: admission serves links in the order people saved them.
        for page in notion.query(source, pending_filter(schema), OLDEST_FIRST):
            _enqueue_one(runtime, status, page, source, report, user)
        _correct_rows(runtime, status, notion, source, schema, report)
    except Exception as exc:  # noqa: BLE001 - one link's trouble; the next poll tries again
        report.errors.append(f"Link Database {database}: {_reason(exc)}")
        log.error(report.errors[-1], extra={"labels": {"user": user}})
        if user != LOCAL_USER and _needs_reconnect(exc):
            _reconnect(runtime, user, _reason(exc), report)
    return report


def _reconnect(runtime: Runtime, user: str, reason: str, report: PollReport) -> None:
    """Notion refused the person's token: refresh it, else ask them to sign in again."""
    try:
        mark_needs_reconnect(runtime, user, reason)
    except Exception as exc:  # the next poll tries again
        report.errors.append(f"could not mark {user} as needing to reconnect: {_reason(exc)}")
        log.exception(report.errors[-1])
    forget_notion(runtime, user)


def _enqueue_one(
    runtime: Runtime, status: LinkStatus, page: dict, source: str, report: PollReport, user: str
) -> None:
    """One row; its trouble stays its own: a value no link can be read from fails that row
    with the reason, anything else leaves it pending for the next poll."""
    page_id = str(page.get("id") or "")
    try:
        entry = read_entry(page, source)
        if entry is None:  # a wiki's data source listed among its rows
            return
        enqueue(runtime, status, entry, report, user)
    except LinkRowError as exc:
        link = {"url": "", "tag": "", "page_id": page_id, "data_source_id": source}
        if user != LOCAL_USER:
            link["user"] = user
        job_id = page_id.replace("-", "")
        _fail_link(runtime, status, jobs.new_job(job_id, link, {}, time.time()), exc.reason, report)
    except Exception as exc:
        report.errors.append(f"link {page_id}: {_reason(exc)} (left pending)")
        log.warning(report.errors[-1], exc_info=not isinstance(exc, PermanentError))


def enqueue(
    runtime: Runtime,
    status: LinkStatus,
    entry: LinkEntry,
    report: PollReport,
    user: str = LOCAL_USER,
    room: Room | None = None,
) -> None:
    """Queue one pending link: a new job, a restarted one, or the end of a known one shown
    again. Notion shows `queued` before the downloader can start, so `queued` can never
    overwrite a later status. A link that would start a job waits for room in the pipeline:
    `room`, else the poll's, else (a webhook event) its own count of the jobs at work."""
    from svp.media.identity import video_key_from_url  # yt-dlp: loaded on the first link

    job_id = entry.page_id.replace("-", "")
    link = {
        "url": entry.url,
        "tag": entry.tag,
        "page_id": entry.page_id,
        "data_source_id": entry.data_source_id,
        "reprocess": entry.processing_type == REPROCESS,
        "saved_by": entry.saved_by,
    }
    if user != LOCAL_USER:
        link["user"] = user
    now = time.time()
    try:
        if not entry.url:
            raise PermanentError("the link has no url: fill the 'url' property")
        if not entry.tag:
            raise PermanentError("the link has no tag: choose one in the 'tag' property")
        target = target_for_tag(runtime, entry.tag, user=user)
    except PermanentError as exc:  # a TransientError leaves the link pending
        _fail_link(runtime, status, jobs.new_job(job_id, link, {}, now), exc.reason, report)
        return

    known = runtime.state.get(jobs.JOBS, job_id)
    if _ended_since_read(runtime, known, link, report):
        return
    if not _admitted(runtime, room, known, link, report):
        return
    fresh = jobs.new_job(job_id, link, target, now, video_key_from_url(entry.url))
    action, job = runtime.state.update(jobs.JOBS, job_id, lambda d: jobs.admit_link(d, fresh))
    if action in ("new", "restarted"):
        verdict = settle(runtime, job, job["video"])
        status.sync(job_id)
        if verdict == "point":
            report.duplicates.append(job_id)
        elif verdict == "wait":
            report.waiting.append(job_id)
        else:
            _publish(runtime, job, report)
    elif action == "unpublished":
        status.sync(job_id)
        _publish(runtime, job, report)
    else:  # known: Notion may have missed a status update
        status.sync(job_id)
        report.skipped += 1


def _ended_since_read(
    runtime: Runtime, known: jobs.Doc | None, link: dict, report: PollReport
) -> bool:
    """The link's job ended and Notion showed it, yet the row was read as pending: a person
    set it back (run it again), or this poll read the row before another poll's job ended
    (polls overlap when one is slow). Only the row as it is now tells which; acting on the
    stale read would run the link twice or write its place in line over its end."""
    if known is None or not jobs.ended_and_shown(known):
        return False
    notion = notion_for(runtime, link.get("user", LOCAL_USER))
    if notion is None or shows_pending(notion.retrieve_page(link["page_id"])):
        return False
    report.skipped += 1
    return True


def _admitted(
    runtime: Runtime, room: Room | None, known: jobs.Doc | None, link: dict, report: PollReport
) -> bool:
    """Whether the link may start now; if not, its row shows its place in line. Links whose
    job is on its way (or whose end is not shown yet) need no room."""
    room = room or _POLL_ROOM.get()
    polled = room is not None  # a webhook event alone does not know the link's place
    room = room or Room(runtime.state, capacity(runtime.settings.uses_gcp))
    if room.capacity is None:
        return True
    if known is not None and not jobs.ended_and_shown(known):
        return True
    job_id = link["page_id"].replace("-", "")
    ahead = room.take()
    if ahead is None:
        return True
    report.held.append(job_id)
    if polled:
        _show_place(runtime, job_id, link, ahead)
    return False


def _show_place(runtime: Runtime, job_id: str, link: dict, ahead: int) -> None:
    """The row stays `pending` (the queue is Notion) and says how many links wait before it;
    it is rewritten only when that changed (svp.runtime.room.place_to_show)."""
    note = place_to_show(runtime.state, job_id, ahead, time.time())
    notion = notion_for(runtime, link.get("user", LOCAL_USER)) if note else None
    if notion is not None:
        update_link(notion, link, PENDING, error=note)


def _publish(runtime: Runtime, job: jobs.Doc, report: PollReport) -> None:
    job_id = job["job_id"]
    runtime.publish_from("poller", JobMessage(job_id, "poller", replays=job.get("replays", 0)))
    runtime.state.update(
        jobs.JOBS, job_id, lambda d: jobs.set_fields(d, time.time(), published=True)
    )
    report.queued.append(job_id)


def _fail_link(
    runtime: Runtime, status: LinkStatus, fresh: jobs.Doc, reason: str, report: PollReport
) -> None:
    job_id = fresh["job_id"]
    failed = jobs.fail(fresh, None, reason, now=time.time())[0]

    def store(doc: jobs.Doc | None):
        if doc is not None and not (jobs.is_terminal(doc) and jobs.synced(doc)):
            return None, None  # a job in flight, or an end Notion has not shown yet
        return (jobs.restart(doc, failed) if doc else failed), None

    runtime.state.update(jobs.JOBS, job_id, store)
    status.sync(job_id)
    report.failed.append(job_id)


def _correct_rows(
    runtime: Runtime,
    status: LinkStatus,
    notion: NotionGateway,
    source: str,
    schema: dict,
    report: PollReport,
) -> None:
    """Rows showing a link in progress whose job has ended (a late write landed after the
    end) get the end again; rows whose job is gone go back to pending, to be queued anew."""
    wanted = in_progress_filter(schema)
    if wanted is None:
        return
    for page in notion.query(source, wanted):
        if page.get("object", "page") != "page":  # a wiki's data source, not a row
            continue
        job_id = page["id"].replace("-", "")
        job = runtime.state.get(jobs.JOBS, job_id)
        if job is None:
            update_link(notion, {"page_id": page["id"], "data_source_id": source}, PENDING)
        elif jobs.is_terminal(job):
            runtime.state.update(jobs.JOBS, job_id, lambda d: jobs.resend(d, now=time.time()))
            status.sync(job_id)
        else:
            continue
        report.corrected.append(job_id)


def _needs_reconnect(exc: Exception) -> bool:
    return isinstance(exc, NotionAccessError) or (
        isinstance(exc, NotionRequestError) and exc.status == 401
    )


def _reason(exc: Exception) -> str:
    return getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
