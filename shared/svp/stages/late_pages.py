"""Pages that appeared after their attempt had been given up: found and moved to the trash.

A writer killed (or past its deadline) while Notion holds its page creation leaves an intent
and no page; the attempt after it looks for that page, finds none yet, and makes its own. Notion
may still apply the first request afterwards: a second page for one video. Nothing at the time
of writing can tell, so the video's claim keeps every such intent (svp.runtime.videos) and sets
`sweep_at` to the moment none of those attempts can create a page any more. Each poll then
sweeps the claims due: it queries the Content Database for the pages those attempts would have
made (their title and link, created by the integration since the attempt began) and trashes
every one no claim of the video records. Sound against live writers: a claim with an attempt
still at work is deferred, and the claims are read again after the query, so a page made or
recorded meanwhile is never taken for an extra one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from svp.accounts import notion_for
from svp.notion.gateway import NotionGateway
from svp.ports import Span
from svp.runtime import videos
from svp.runtime.context import Runtime
from svp.summary.targets import Schema, source_property, title_property

log = logging.getLogger("svp.late_pages")
# Notion rounds created_time down to the minute: look that far (and a little) back.
CLOCK_SLACK_SECONDS = 120
# Claims read per poll, and the share of the poller's 120 s (limits.json) sweeping may take
# (beside the reconciler's 30 s): the rest wait for the next poll.
PAGE = 50
BUDGET_SECONDS = 20.0
# A claim that could not be swept now (Notion unreachable) is looked at again after this, up
# to TRIES times (waits doubling, about 17 hours in all): then its intents are forgotten, with
# an error, rather than retried for ever (a person who disconnected Notion, a database gone).
RETRY_SECONDS = 60.0
TRIES = 11


def pages_like(
    notion: NotionGateway, data_source_id: str, schema: Schema, intent: dict
) -> Iterator[dict]:
    """The pages the attempt of `intent` may have created: the integration's pages with its
    title (and source link), created since it began."""
    since = datetime.fromisoformat(intent["since"]).timestamp() - CLOCK_SLACK_SECONDS
    created = datetime.fromtimestamp(since, UTC).isoformat()
    conditions: list[dict] = [
        {"timestamp": "created_time", "created_time": {"on_or_after": created}}
    ]
    if (name := title_property(schema)) and intent.get("title"):
        conditions.append({"property": name, "title": {"equals": intent["title"]}})
    if (name := source_property(schema)) and intent.get("source"):
        conditions.append({"property": name, "url": {"equals": intent["source"]}})
    bot = notion.bot_user_id()
    for page in notion.query(data_source_id, {"and": conditions}):
        if not bot or (page.get("created_by") or {}).get("id") == bot:
            yield page


def sweep(runtime: Runtime, now: float | None = None) -> list[str]:
    """Sweep every claim due; returns the ids of the pages moved to the trash."""
    now = time.time() if now is None else now
    stop = time.monotonic() + BUDGET_SECONDS
    trashed: list[str] = []
    due = runtime.state.list(videos.VIDEOS, span=Span("sweep_at", None, now), limit=PAGE)
    for claim in due:
        if time.monotonic() > stop:
            break
        try:
            trashed += _sweep_claim(runtime, claim, now)
        except Exception:  # noqa: BLE001 - one claim's trouble must not stop the others
            _failed(runtime, claim, now)
    return trashed


def _failed(runtime: Runtime, claim: dict, now: float) -> None:
    tries = int(claim.get("sweep_tries") or 0) + 1
    video = claim.get("video")
    if tries >= TRIES:
        log.error(
            "gave up looking for late pages of video %s after %d tries: a page Notion made for "
            "a writer given up on may be left beside the video's page",
            video,
            tries,
            exc_info=True,
        )
        looked_for = videos.abandoned(claim)
        runtime.state.update(
            videos.VIDEOS, claim["key"], lambda d: videos.swept(d, looked_for, now)
        )
        return
    log.warning("could not sweep the pages of video %s (try %d)", video, tries, exc_info=True)
    until = now + RETRY_SECONDS * 2 ** (tries - 1)
    runtime.state.update(
        videos.VIDEOS, claim["key"], lambda d: videos.defer_sweep(d, until, tries=tries)
    )


def _sweep_claim(runtime: Runtime, claim: dict, now: float) -> list[str]:
    key = claim["key"]
    if _defer_if_at_work(runtime, key, claim, now):
        return []
    looked_for = videos.abandoned(claim)
    candidates: dict[str, NotionGateway] = {}
    for intent in looked_for:
        notion = notion_for(runtime, intent.get("user"))
        if notion is None:  # the token is gone: nothing can be looked for any more
            log.warning("no Notion token for %s: its late pages are not swept", intent.get("user"))
            continue
        source = intent["data_source_id"]
        for page in pages_like(notion, source, notion.schema(source), intent):
            candidates[page["id"]] = notion
    # Read again after the query: an attempt begun meanwhile defers the sweep, and a page
    # recorded meanwhile is kept.
    claim = runtime.state.get(videos.VIDEOS, key) or {}
    if _defer_if_at_work(runtime, key, claim, now):
        return []
    kept: set[str] = set()
    for other in runtime.state.list(videos.VIDEOS, where={"video": claim.get("video")}):
        if other.get("key") != key and videos.open_until(other) > now:
            _defer(runtime, key, videos.open_until(other))
            return []
        kept |= videos.recorded(other)
    kept |= videos.recorded(claim)
    trashed = []
    for page_id, notion in candidates.items():
        if page_id not in kept:
            log.warning(
                "moving page %s to the trash: an attempt given up on made it after another "
                "attempt wrote the video's page",
                page_id,
                extra={"event": "page.late", "labels": {"video": claim.get("video", "")}},
            )
            notion.trash_page(page_id)
            trashed.append(page_id)
    runtime.state.update(videos.VIDEOS, key, lambda d: videos.swept(d, looked_for, now))
    return trashed


def _defer_if_at_work(runtime: Runtime, key: str, claim: dict, now: float) -> bool:
    """An attempt may still create one of the claim's pages: sweep once it no longer can."""
    until = videos.open_until(claim)
    if until > now:
        _defer(runtime, key, until)
        return True
    return False


def _defer(runtime: Runtime, key: str, until: float) -> None:
    runtime.state.update(videos.VIDEOS, key, lambda d: videos.defer_sweep(d, until))
