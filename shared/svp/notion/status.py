"""Keep each link's row in the Notion Link Database in step with its job.

The job is the outbox (svp.runtime.jobs): `notion.want` moves with every status change and
`notion.sent` records what Notion confirmed. `sync` reads the job afresh and sends its *latest*
status, so a slow or stale worker can only ever send the current one; a status the job has
already left is never sent. A write Notion refuses now is retried by the reconciler at every
poll until Notion has it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from svp.notion.gateway import NotionGateway, NotionRequestError
from svp.notion.links import update_link
from svp.ports import StateStore
from svp.runtime import jobs

log = logging.getLogger("svp.status")
# With SVP_STATUS_UPDATES=minimal only these are written.
MINIMAL = ("queued", "done", "failed")


class LinkStatus:
    """The runner's StatusSink for Notion links."""

    def __init__(
        self,
        state: StateStore,
        notion_for: Callable[[str | None], NotionGateway | None],
        minimal: bool = False,
    ):
        self.state = state
        self.notion_for = notion_for
        self.minimal = minimal

    def sync(self, job_id: str) -> bool:
        """Show the job's latest status. True when Notion has it (or there is nothing to show);
        never raises: a failed write stays in the outbox for the next try."""
        try:
            return self._sync(job_id)
        except Exception as exc:  # noqa: BLE001 - never raises: the outbox keeps the status
            log.warning("could not show job %s's status in Notion: %s", job_id, exc)
            return False

    def _sync(self, job_id: str) -> bool:
        job = self.state.get(jobs.JOBS, job_id)
        if job is None or jobs.synced(job):
            return True
        want = job["notion"]["want"]
        status = jobs.shown_status(job)
        link = job["link"]
        skip = self.minimal and status not in MINIMAL
        notion = None if skip or not link.get("page_id") else self.notion_for(link.get("user"))
        if notion is not None:
            page_url = (job.get("result") or {}).get("page_url", "")
            try:
                update_link(notion, link, status, error=jobs.shown_note(job), page_url=page_url)
            except NotionRequestError as exc:
                if exc.status == 401:  # shown once the person reconnects Notion
                    raise
                # The row was deleted or unshared: there is nothing left to show it on.
                log.warning("the link's row refused its status %r: %s", status, exc.reason)
        self.state.update(jobs.JOBS, job_id, lambda d: jobs.mark_sent(d, want, now=time.time()))
        return True
