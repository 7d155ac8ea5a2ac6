"""Writer stage: the page(s) in the tag's Content Database, then the link marked done.

Exactly one page per item and link: before creating, the writer looks for a page it made on an
earlier attempt (same source link and title), so a crash after Notion created the page, or a
duplicate delivery, never adds a second one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from svp.notion import body
from svp.notion.gateway import NotionGateway, NotionRequestError
from svp.notion.properties import encode_properties, plain
from svp.runtime.linkstatus import report_status
from svp.runtime.runner import StageContext
from svp.summary.extractive import SOURCE_URL_NAME
from svp.summary.targets import Schema, schema_of

log = logging.getLogger("svp.writer")


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
    target = ctx.job["target"]
    schema = schema_of(ctx.runtime, target)
    source = ctx.job["link"].get("url") or ""

    rendered = [render(schema, values, source) for values in items]
    documents = [
        body.markdown(title, readable, summary, source, evidence[i] if i < len(evidence) else {})
        for i, (_, readable, title) in enumerate(rendered)
    ]
    all_properties = [properties for properties, _, _ in rendered]
    properties_uri = ctx.save(
        "page.json",
        json.dumps(all_properties[0] if len(items) == 1 else all_properties, ensure_ascii=False,
                   indent=2).encode(),
        "application/json",
    )  # fmt: skip
    markdown_uri = ctx.save("page.md", "\n---\n\n".join(documents).encode(), "text/markdown")

    if "data_source_id" in target:
        notion = ctx.runtime.notion_for(target.get("user"))
        assert notion is not None
        # Only a retry, a replay or a reprocessed link can find a page already made: a first
        # attempt skips that query (one Notion request per link fewer).
        look_first = (
            ctx.job["stages"]["writer"]["attempts"] > 1
            or ctx.job.get("replays", 0) > 0
            or bool(ctx.job["link"].get("reprocess"))
        )
        pages = _write_notion(notion, target["data_source_id"], items, evidence,
                              summary, source, look_first)  # fmt: skip
    else:
        url = _write_local(ctx, all_properties, documents)
        pages = [{"id": "", "url": url, "title": title} for _, _, title in rendered]
    report_status(ctx.runtime, ctx.job, "done", page_url=pages[0]["url"])
    return {
        "page_id": pages[0]["id"],
        "page_url": pages[0]["url"],
        "title": pages[0]["title"],
        "pages": pages,
        "artifacts": {"markdown": markdown_uri, "properties": properties_uri},
    }


def _write_notion(
    notion: NotionGateway,
    data_source_id: str,
    items: list[dict],
    evidence: list[dict],
    summary: dict,
    source: str,
    look_first: bool,
) -> list[dict]:
    pages = []
    for index, values in enumerate(items):
        proof = evidence[index] if index < len(evidence) else {}
        for attempt in (1, 2):
            # A write refused for a schema change (a property renamed or deleted) is retried
            # once with the schema read afresh instead of the hour-old cached one.
            schema = notion.schema(data_source_id, refresh=attempt == 2)
            properties, _, title = render(schema, values, source)
            try:
                children = body.blocks(summary, source, proof)
                page = (
                    _find_or_create(notion, data_source_id, schema, properties, title, children,
                                    source)
                    if look_first
                    else notion.create_page(data_source_id, properties, children)
                )  # fmt: skip
                break
            except NotionRequestError as exc:
                if exc.code != "validation_error" or attempt == 2:
                    raise
                log.warning("Notion refused the page (%s): re-reading the schema", exc.reason)
        pages.append({"id": page["id"], "url": page.get("url", ""), "title": title})
    return pages


def _find_or_create(notion, data_source_id, schema, properties, title, children, source) -> dict:
    if (name := source_property(schema)) and source:
        kind = schema[name]["type"]
        title_name = title_property(schema)
        for page in notion.query(data_source_id, {"property": name, kind: {"equals": source}}):
            existing = page.get("properties", {}).get(title_name or "", {})
            if not existing or plain(existing) == title:
                # Made by an earlier attempt (or run): bring its properties up to date.
                return notion.update_page(page["id"], properties)
    return notion.create_page(data_source_id, properties, children)


def _write_local(ctx: StageContext, properties: list[dict], documents: list[str]) -> str:
    folder = ctx.runtime.settings.data_dir / "output"
    folder.mkdir(parents=True, exist_ok=True)
    shown = properties[0] if len(properties) == 1 else properties
    (folder / f"{ctx.job_id}.json").write_text(json.dumps(shown, ensure_ascii=False, indent=2))
    path = folder / f"{ctx.job_id}.md"
    path.write_text("\n---\n\n".join(documents))
    return path.resolve().as_uri()
