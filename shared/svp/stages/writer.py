"""Writer stage: the page in the tag's Content Database, then the link marked done."""

from __future__ import annotations

import json
from typing import Any

from svp.notion import body
from svp.notion.properties import encode_properties, plain
from svp.runtime.linkstatus import report_status
from svp.runtime.runner import StageContext
from svp.summary.extractive import SOURCE_URL_NAME
from svp.summary.targets import Schema, schema_of


def source_property(schema: Schema) -> str | None:
    """The url property that holds the video's link (video_link, source, ...), if any."""
    return next(
        (n for n, p in schema.items() if p["type"] == "url" and SOURCE_URL_NAME.search(n)), None
    )


def run(ctx: StageContext) -> dict[str, Any]:
    summary_uri = ctx.output_of("summarizer")["artifacts"]["summary"]
    summary = json.loads(ctx.runtime.blobs.get_bytes(summary_uri))
    target = ctx.job["target"]
    schema = schema_of(ctx.runtime, target)
    source = ctx.job["link"].get("url") or ""
    values = dict(summary["values"])
    if (name := source_property(schema)) and source:
        values[name] = source
    properties = encode_properties(schema, values)
    readable = {
        name: plain({"type": schema[name]["type"], **prop}) for name, prop in properties.items()
    }
    title = next(
        (str(readable[n]) for n, p in schema.items() if p["type"] == "title" and n in readable),
        "Untitled",
    )

    page_md = body.markdown(title, readable, summary, source)
    properties_uri = ctx.save(
        "page.json",
        json.dumps(properties, ensure_ascii=False, indent=2).encode(),
        "application/json",
    )
    markdown_uri = ctx.save("page.md", page_md.encode(), "text/markdown")

    if "data_source_id" in target:
        page = _write_notion(ctx, target["data_source_id"], schema, properties, summary, source)
        page_id, page_url = page["id"], page.get("url", "")
    else:
        page_id, page_url = "", _write_local(ctx, properties, page_md)
    report_status(ctx.runtime, ctx.job, "done", page_url=page_url)
    return {
        "page_id": page_id,
        "page_url": page_url,
        "title": title,
        "artifacts": {"markdown": markdown_uri, "properties": properties_uri},
    }


def _write_notion(ctx, data_source_id, schema, properties, summary, source) -> dict:
    notion = ctx.runtime.notion
    # Exactly one page per link: a retried writer finds the page its crashed attempt made.
    if (name := source_property(schema)) and source:
        kind = schema[name]["type"]
        for page in notion.query(data_source_id, {"property": name, kind: {"equals": source}}):
            return page
    return notion.create_page(data_source_id, properties, body.blocks(summary, source))


def _write_local(ctx: StageContext, properties: dict, page_md: str) -> str:
    folder = ctx.runtime.settings.data_dir / "output"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ctx.job_id}.json").write_text(json.dumps(properties, ensure_ascii=False, indent=2))
    path = folder / f"{ctx.job_id}.md"
    path.write_text(page_md)
    return path.resolve().as_uri()
