"""The summary without an LLM: fills the schema from the post's own words, marked for review.

Used when no LLM is configured and whenever the LLM fails, so a link is never lost.
"""

from __future__ import annotations

import re
from typing import Any

from svp.summary.content import URL_RE, Content
from svp.summary.targets import Schema

SOURCE_URL_NAME = re.compile(r"video|source|link|original|post|url", re.I)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PHONE_RE = re.compile(r"\+?\d[\d\s().-]{7,}\d")


def _clean(line: str) -> str:
    line = URL_RE.sub("", line)
    line = re.sub(r"#\w[\w-]*", "", line)
    return re.sub(r"\s+", " ", line).strip(" -–—:|")


def first_sentence(text: str, limit: int = 90) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    if len(sentence) <= limit:
        return sentence
    return sentence[: sentence.rfind(" ", 0, limit)].rstrip(",;") + "…"


def title_of(content: Content) -> str:
    for line in content.caption.splitlines():
        if cleaned := _clean(line):
            return first_sentence(cleaned)
    for line in content.screen_lines:
        if cleaned := _clean(line["text"]):
            return cleaned
    return first_sentence(content.transcript) or content.title or content.url


def labelled_value(content: Content, name: str) -> str:
    """A value written as 'Name: value' in the caption or on screen."""
    label = re.escape(name.replace("_", " "))
    pattern = re.compile(rf"^\s*{label}\s*[:=\-–]\s*(.+)$", re.I | re.M)
    for text in (content.caption, content.screen_text):
        if match := pattern.search(text):
            return match.group(1).strip()
    return ""


def extract(content: Content, schema: Schema) -> dict[str, Any]:
    values: dict[str, Any] = {}
    title = title_of(content)
    other_urls = iter(content.urls())
    spare_lines = [
        _clean(line["text"]) for line in content.screen_lines if _clean(line["text"]) != title
    ]
    transcript_used = False
    for name, prop in schema.items():
        kind = prop["type"]
        labelled = labelled_value(content, name)
        if kind == "title":
            values[name] = title
        elif labelled and kind not in ("multi_select",):
            values[name] = labelled
        elif kind == "url":
            values[name] = content.url if SOURCE_URL_NAME.search(name) else next(other_urls, None)
        elif kind == "rich_text" and not transcript_used and content.transcript:
            values[name] = content.transcript
            transcript_used = True
        elif kind == "multi_select":
            values[name] = content.hashtags or [line for line in spare_lines if len(line) <= 60]
        elif kind == "email":
            values[name] = next(iter(EMAIL_RE.findall(content.caption + content.screen_text)), None)
        elif kind == "phone_number":
            values[name] = next(iter(PHONE_RE.findall(content.caption + content.screen_text)), None)
    if not transcript_used:  # no speech: the first free text field gets what was on screen
        for name, prop in schema.items():
            if prop["type"] == "rich_text" and not values.get(name) and spare_lines:
                values[name] = "\n".join(spare_lines)
                break
    return {name: value for name, value in values.items() if value not in (None, "", [])}
