"""Summarizer stage: the post's content as values for the target database's properties."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from svp.runtime.runner import StageContext
from svp.summary import extractive
from svp.summary.content import load_content
from svp.summary.targets import schema_of

log = logging.getLogger("svp.summarizer")


def run(ctx: StageContext) -> dict[str, Any]:
    settings = ctx.runtime.settings
    content = load_content(ctx)
    target = ctx.job["target"]
    schema = schema_of(ctx.runtime, target)
    notes: list[str] = []
    tokens = {"input": 0, "output": 0}
    values: dict[str, Any] | None = None
    engine = "extractive"
    if settings.gemini_api_key:
        from svp.summary import gemini

        try:
            values, tokens = gemini.summarize(content, schema, settings, target.get("prompt", ""))
            engine = "gemini"
        except Exception as exc:  # the link must not be lost: fall back, mark for review
            notes.append(f"Gemini failed ({type(exc).__name__}: {exc}); filled without an LLM")
            log.warning(notes[-1])
    else:
        notes.append("no LLM configured (GEMINI_API_KEY): filled from the post's own words")
    if values is None:
        values = extractive.extract(content, schema)
    summary = {
        "values": values,
        "engine": engine,
        "needs_review": engine == "extractive",
        "notes": notes,
        "summary": extractive.first_sentence(content.transcript, 400),
        "content": asdict(content),
    }
    uri = ctx.save(
        "summary.json", json.dumps(summary, ensure_ascii=False).encode(), "application/json"
    )
    return {
        "artifacts": {"summary": uri},
        "engine": engine,
        "needs_review": engine != "gemini",
        "tokens": tokens,
    }
