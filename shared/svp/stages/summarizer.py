"""Summarizer stage: the post's content as values for the target database's properties.

It writes `summary.json`, the writer's input:

    {
      "items":    [{property name: plain value, ...}, ...],  # one per item the video presents;
                                                             # exactly one unless target["many"]
      "evidence": [{property name: "caption" | "transcript at 0:12" |
                    "on-screen text at 0:04 and 0:08" | "the video's link" |
                    "not found in the sources (the model's wording)" | ...}, ...],
                                                             # parallel to items, filled ones
      "engine":   "gemini" | "openai" | "extractive",
      "model":    model id ("" for extractive),
      "needs_review": bool,     # extractive fallback, or values dropped after the repair
      "notes":    [str, ...],   # why: fallback first, then repairs, dropped values, trims
      "summary":  str,          # one or two sentences (the model's, else the first sentence)
      "usage":    {"input_tokens": int, "output_tokens": int},   # all LLM calls of the stage
      "content":  {url, tag, title, caption, uploader, transcript, language,
                   transcript_engine, segments, screen_lines}    # svp.summary.content.Content
    }

Plain values by property type: title/rich_text str, number int|float, checkbox bool, date
"YYYY-MM-DD" (or an ISO date-time), url/email/phone_number str, select/status str (status
always an existing option), multi_select list[str] (no commas). Every value is already valid
for its type; `svp.notion.properties.encode_properties` turns an item into Notion properties.

The job's `target` may carry `prompt` (str), `many` (bool) and `language` (str, overriding
SVP_OUTPUT_LANGUAGE). The stage never fails on the LLM: a provider outage or unusable answers
give the extractive summary marked for review (see svp.summary.summarize).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from svp.runtime.runner import StageContext
from svp.stages.targets import schema_of
from svp.summary.content import Content
from svp.summary.summarize import deadline_for, summarize

log = logging.getLogger("svp.summarizer")


def run(ctx: StageContext) -> dict[str, Any]:
    settings = ctx.runtime.settings
    content = load_content(ctx)
    target = ctx.job["target"]
    schema = schema_of(ctx.runtime, target)
    summary = summarize(
        content,
        schema,
        settings,
        user_prompt=str(target.get("prompt") or ""),
        many=bool(target.get("many")),
        language=str(target.get("language") or ""),
        deadline=deadline_for(settings, ctx.job["stages"]["summarizer"]["deadline"]),
    )
    summary["content"] = asdict(content)
    if damaged := _artifact_json(ctx, "downloader", "info").get("damaged"):
        # A video cut short: what the page lacks is said first, and the page is reviewed.
        summary["needs_review"] = True
        summary["notes"].insert(0, damaged)
    uri = ctx.save(
        "summary.json", json.dumps(summary, ensure_ascii=False).encode(), "application/json"
    )
    usage = summary["usage"]
    return {
        "artifacts": {"summary": uri},
        "engine": summary["engine"],
        "model": summary["model"],
        "needs_review": summary["needs_review"],
        "items": len(summary["items"]),
        "usage": usage,
    }


def _artifact_json(ctx: StageContext, stage: str, artifact: str) -> dict[str, Any]:
    uri = (ctx.output_of(stage).get("artifacts") or {}).get(artifact)
    return json.loads(ctx.runtime.blobs.get_bytes(uri)) if uri else {}


def load_content(ctx: StageContext) -> Content:
    link = ctx.job["link"]
    info = _artifact_json(ctx, "downloader", "info")
    transcript = _artifact_json(ctx, "transcriber", "transcript")
    ocr = _artifact_json(ctx, "ocr", "ocr")
    return Content(
        url=link.get("url") or "",
        tag=link.get("tag", ""),
        title=info.get("title", ""),
        caption=info.get("description", ""),
        uploader=info.get("uploader") or info.get("channel") or "",
        transcript=transcript.get("text", ""),
        language=transcript.get("language", ""),
        transcript_engine=transcript.get("engine", ""),
        transcript_source=transcript.get("source", ""),
        segments=transcript.get("segments", []),
        screen_lines=ocr.get("lines", []),
        persistent_lines=ocr.get("persistent", []),
        transcript_notice=transcript.get("notice", ""),
    )
