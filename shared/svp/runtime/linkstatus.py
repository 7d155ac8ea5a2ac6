"""Keep the link's row in the Notion Link Database in step with its job."""

from __future__ import annotations

import logging

from svp.runtime.context import Runtime
from svp.runtime.jobs import Doc

log = logging.getLogger("svp.status")
# With SVP_STATUS_UPDATES=minimal only these are written: 3 Notion requests instead of 7.
MINIMAL = ("queued", "done", "failed")


def report_status(
    runtime: Runtime, job: Doc, status: str, *, error: str | None = None, page_url: str = ""
) -> bool:
    """Best effort: a Notion hiccup must not fail the stage. Returns whether Notion was updated."""
    link = job["link"]
    notion = runtime.notion_for(link.get("user"))
    if not link.get("page_id") or notion is None:
        return False
    if runtime.settings.status_updates == "minimal" and status not in MINIMAL:
        return False
    try:
        from svp.notion.links import update_link

        update_link(notion, link, status, error=error, page_url=page_url)
        return True
    except Exception as exc:
        log.warning("could not set the link's status to %r in Notion: %s", status, exc)
        return False
