"""The runtime's status sink: each job's latest status shown on its link's row in Notion."""

from __future__ import annotations

from svp.accounts import notion_for
from svp.notion.status import LinkStatus
from svp.runtime.context import Runtime


def link_status(runtime: Runtime) -> LinkStatus:
    return LinkStatus(
        runtime.state,
        lambda user: notion_for(runtime, user),
        minimal=runtime.settings.status_updates == "minimal",
    )
