"""Writer stage: the page(s) in the tag's Content Database; the runner then marks the link done.

Exactly one page per item and video: the video's claim (svp.runtime.videos) records its pages,
so a restarted or reprocessed link updates the page it made. Before creating a page the writer
records its intent in the claim; an attempt that finds an intent with no page (a crash or a
lost answer after Notion created it) looks for that page before creating one.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from svp.notion import body
from svp.notion.gateway import NotionGateway, NotionRequestError
from svp.notion.properties import encode_properties, plain
from svp.runtime import jobs, videos
from svp.runtime.runner import StageContext
from svp.summary.extractive import SOURCE_URL_NAME
from svp.summary.targets import Schema, schema_of

log = logging.getLogger("svp.writer")
# Notion rounds created_time down to the minute: look that far (and a little) back.
CLOCK_SLACK_SECONDS = 120


def source_property(schema: Schema) -> str | None:
    """The url property that holds the video's link (video_link, source, ...), if any."""
    return next(
        (n for n, p in schema.items() if p["type"] == "url" and SOURCE_URL_NAME.search(n)), None
    )


def title_property(schema: Schema) -> str | None:
    return next((n for n, p in schema.items() if p["type"] == "title"), None)


def render(schema: Schema, values: dict[str, Any], source: str) -> tuple[dict, dict, str]:
    """(Notion properties, the same as plain values, title) for one item."""
    values = dict(values)
    if (name := source_property(schema)) and source:
        values[name] = source
    properties = encode_properties(schema, values)
    readable = {n: plain({"type": schema[n]["type"], **p}) for n, p in properties.items()}
    title = str(readable.get(title_property(schema) or "", "")) or "Untitled"
    return properties, readable, title


def run(ctx: StageContext) -> dict[str, Any]:
    summary_uri = ctx.output_of("summarizer")["artifacts"]["summary"]
    summary = json.loads(ctx.runtime.blobs.get_bytes(summary_uri))
    items: list[dict] = summary.get("items") or [summary["values"]]
    evidence: list[dict] = summary.get("evidence") or [{} for _ in items]
    evidence += [{} for _ in range(len(items) - len(evidence))]
    target = ctx.job["target"]
    schema = schema_of(ctx.runtime, target)
    source = ctx.job["link"].get("url") or ""

    rendered = [render(schema, values, source) for values in items]
    documents = [
        body.markdown(title, readable, summary, source, evidence[i])
        for i, (_, readable, title) in enumerate(rendered)
    ]
    all_properties = [properties for properties, _, _ in rendered]
    shown = all_properties[0] if len(items) == 1 else all_properties
    properties_uri = ctx.save(
        "page.json", json.dumps(shown, ensure_ascii=False, indent=2).encode(), "application/json"
    )
    markdown_uri = ctx.save("page.md", "\n---\n\n".join(documents).encode(), "text/markdown")

    if "data_source_id" in target:
        notion = ctx.runtime.notion_for(target.get("user"))
        assert notion is not None
        pages = [
            _write_item(ctx, notion, target["data_source_id"], index, values, evidence[index],
                        summary, source)
            for index, values in enumerate(items)
        ]  # fmt: skip
    else:
        url = _write_local(ctx, all_properties, documents)
        pages = [{"id": "", "url": url, "title": title} for _, _, title in rendered]
    return {
        "page_id": pages[0]["id"],
        "page_url": pages[0]["url"],
        "title": pages[0]["title"],
        "pages": pages,
        "artifacts": {"markdown": markdown_uri, "properties": properties_uri},
    }


def _write_item(
    ctx: StageContext,
    notion: NotionGateway,
    data_source_id: str,
    index: int,
    values: dict,
    proof: dict,
    summary: dict,
    source: str,
) -> dict:
    """Item `index`'s page, updated if the video's claim has it, else created once."""
    key, claim = videos.claim_of(ctx.runtime.state, ctx.job, now=time.time())
    known = claim.get("pages") or []
    existing = known[index] if index < len(known) and known[index].get("id") else None
    for attempt in (1, 2):
        # A write refused for a schema change (a property renamed or deleted) is retried
        # once with the schema read afresh instead of the hour-old cached one.
        schema = notion.schema(data_source_id, refresh=attempt == 2)
        properties, _, title = render(schema, values, source)
        try:
            if existing and _updated(notion, existing["id"], properties):
                page = {**existing, "title": title}
            else:
                children = body.blocks(summary, source, proof)
                page = _create_once(ctx, notion, key, index, data_source_id, schema, properties,
                                    title, children, source)  # fmt: skip
            break
        except NotionRequestError as exc:
            if exc.code != "validation_error" or attempt == 2:
                raise
            log.warning("Notion refused the page (%s): re-reading the schema", exc.reason)
    if key is not None:
        videos.record_page(ctx.runtime.state, key, index, page, time.time())
    return page


def _updated(notion: NotionGateway, page_id: str, properties: dict) -> bool:
    """Update the video's page; False when it is gone (deleted or in the trash)."""
    try:
        page = notion.update_page(page_id, properties)
    except NotionRequestError as exc:
        if exc.status == 404 or "archived" in exc.reason:
            log.warning("the video's page %s is gone: writing a new one", page_id)
            return False
        raise
    return not page.get("in_trash") and not page.get("archived")


def _create_once(
    ctx: StageContext,
    notion: NotionGateway,
    key: str | None,
    index: int,
    data_source_id: str,
    schema: Schema,
    properties: dict,
    title: str,
    children: list[dict],
    source: str,
) -> dict:
    page: dict | None = None
    if key is not None:
        now = time.time()
        intent = {"job": ctx.job_id, "since": jobs.iso(now), "title": title, "source": source}
        earlier = videos.begin_page(ctx.runtime.state, key, index, intent, now)
        if earlier is not None:  # an earlier attempt may have made the page: find it
            page = _find_page(notion, data_source_id, schema, earlier)
    if page is not None:
        log.info("found the page an earlier attempt created: updating it")
        page = notion.update_page(page["id"], properties)
    else:
        ctx.ensure_held()  # a worker that lost the stage must not create a page
        page = notion.create_page(data_source_id, properties, children)
    return {"id": page["id"], "url": page.get("url", ""), "title": title}


def _find_page(notion: NotionGateway, data_source_id: str, schema: Schema, intent: dict):
    """The page an earlier attempt created: same title (and source link), created since."""
    since = datetime.fromisoformat(intent["since"]).timestamp() - CLOCK_SLACK_SECONDS
    conditions: list[dict] = [
        {"timestamp": "created_time",
         "created_time": {"on_or_after": datetime.fromtimestamp(since, UTC).isoformat()}},
    ]  # fmt: skip
    if (name := title_property(schema)) and intent.get("title"):
        conditions.append({"property": name, "title": {"equals": intent["title"]}})
    if (name := source_property(schema)) and intent.get("source"):
        conditions.append({"property": name, "url": {"equals": intent["source"]}})
    return next(iter(notion.query(data_source_id, {"and": conditions})), None)


def _write_local(ctx: StageContext, properties: list[dict], documents: list[str]) -> str:
    folder = ctx.runtime.settings.data_dir / "output"
    folder.mkdir(parents=True, exist_ok=True)
    shown = properties[0] if len(properties) == 1 else properties
    (folder / f"{ctx.job_id}.json").write_text(json.dumps(shown, ensure_ascii=False, indent=2))
    path = folder / f"{ctx.job_id}.md"
    path.write_text("\n---\n\n".join(documents))
    return path.resolve().as_uri()
