"""The summary without an LLM: fills the schema from the post's own words, marked for review.

Used when no LLM is configured and whenever the LLM fails, so a link is never lost.
"""

from __future__ import annotations

import re
from typing import Any

from svp.summary import spoken
from svp.summary.content import URL_RE, Content
from svp.summary.targets import SOURCE_URL_NAME, Schema, title_property

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PHONE_RE = re.compile(r"\+?\d[\d \t().-]{7,}\d")
TIME_CODE_RE = re.compile(r"\d:\d\d|\d\s+\.\d{3}\b")  # 0:08, 00:00:08.333, OCR's "08 .333"


def _clean(line: str) -> str:
    line = URL_RE.sub("", line)
    line = re.sub(r"#\w[\w-]*", "", line)
    line = re.sub(r"\s+", " ", line).strip(" -–—:|")
    # Counters, clocks and time codes on screen ("00:00:08 .333", "243") are no value.
    return line if re.search(r"[^\W\d_]", line) else ""


def phone_numbers(text: str) -> list[str]:
    """Phone numbers, line by line: 7-15 digits, never a time code ("00:00:08 .333")."""
    found = []
    for line in text.splitlines():
        for match in PHONE_RE.findall(line):
            digits = re.sub(r"\D", "", match)
            if 7 <= len(digits) <= 15 and not TIME_CODE_RE.search(line):
                found.append(match)
    return found


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


# Free-text properties that hold one short fact: filled only when the post labels them
# ("Address: ..."), never with the whole transcript.
SHORT_FACT_NAME = re.compile(
    r"address|location|where|hours|opening|price|cost|phone|email|city|country|area|"
    r"neighbou?rhood|time|duration|servings|yield|rating|author|chef|name",
    re.I,
)
# Free-text properties that hold instructions: the steps the transcript speaks, numbered.
STEPS_NAME = re.compile(r"step|instruction|method|direction|recipe|how.?to", re.I)
# Free-text properties a person expects the body of the post in.
LONG_TEXT_NAME = re.compile(
    r"step|instruction|method|direction|recipe|description|summary|note|recommend|review|"
    r"detail|content|text|transcript|body|about|tip",
    re.I,
)


def _text_field(schema: Schema) -> str | None:
    """The rich_text property that gets the transcript (or the on-screen text)."""
    texts = [n for n, p in schema.items() if p["type"] == "rich_text"]
    return next(
        (n for n in texts if LONG_TEXT_NAME.search(n)),
        next((n for n in texts if not SHORT_FACT_NAME.search(n)), None),
    )


def extract(content: Content, schema: Schema) -> dict[str, Any]:
    """Plain values for the schema from the post's own words (valid for each type)."""
    from svp.summary.validate import coerce

    values: dict[str, Any] = {}
    title = title_of(content)
    other_urls = iter(content.urls())
    spare_lines = [
        _clean(line["text"]) for line in content.screen_lines if _clean(line["text"]) != title
    ]
    spare_lines = [line for line in spare_lines if line]
    text_field = _text_field(schema)
    for name, prop in schema.items():
        kind = prop["type"]
        labelled = labelled_value(content, name)
        if kind == "title":
            values[name] = title
        elif labelled and kind != "multi_select":
            values[name] = labelled
        elif kind == "url":
            values[name] = content.url if SOURCE_URL_NAME.search(name) else next(other_urls, None)
        elif kind == "rich_text" and name == text_field:
            values[name] = body_text(content, name) or "\n".join(spare_lines)
        elif kind == "multi_select":
            values[name] = (
                [p.strip() for p in labelled.split(",")]
                if labelled
                else content.hashtags or [line for line in spare_lines if len(line) <= 60]
            )
        elif kind == "email":
            values[name] = next(
                iter(EMAIL_RE.findall(content.caption + "\n" + content.screen_text)), None
            )
        elif kind == "phone_number":
            values[name] = next(
                iter(phone_numbers(content.caption + "\n" + content.screen_text)), None
            )
    valid: dict[str, Any] = {}
    for name, value in values.items():
        coerced, _problem = coerce(schema[name], value)
        if coerced not in (None, "", []):
            valid[name] = coerced
    return valid


def _english(content: Content) -> bool:
    return content.language in ("", "en")


def numbered(lines: list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def body_text(content: Content, name: str) -> str:
    """The transcript for a free-text property: its spoken steps, numbered, for a property
    named like steps; else its sentences without greetings and sign-offs. Other languages
    than English keep the transcript as heard (the rules know English words only)."""
    transcript = content.transcript.strip()
    if not transcript or not _english(content):
        return transcript
    if STEPS_NAME.search(name) and (steps := spoken.steps(transcript)):
        return numbered(steps)
    return " ".join(spoken.content_sentences(transcript))


KINDS = {
    "cooking": "A cooking video",
    "recipes": "A recipe video",
    "food": "A food video",
    "places": "A video about a place",
    "travel": "A travel video",
}


def _short(text: str, limit: int = 60) -> str:
    """A step's first clause, at most `limit` characters."""
    text = re.split(r",\s", text.rstrip(".!"), maxsplit=1)[0]
    if text.lower().startswith(("meanwhile", "while", "in the meantime")):
        text = text.split(", ", 1)[-1]
    return text if len(text) <= limit else text[: text.rfind(" ", 0, limit)].rstrip(",;") + "…"


def _listed(items: list[str], shown: int = 6) -> str:
    if len(items) <= shown:
        return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]
    return ", ".join(items[:shown]) + f" and {len(items) - shown} more"


def describe(content: Content, schema: Schema, values: dict[str, Any]) -> str:
    """What the video is, in a few sentences, from the values filled and the post's words:
    "A cooking video: Tomato Basil Pasta. Today we make ... 5 ingredients: ... 4 steps, from
    “Boil the spaghetti …” to “Drain the pasta …”." Never the first sentence heard."""
    kind = KINDS.get(
        content.tag.lower(), f"A video tagged “{content.tag}”" if content.tag else "A video"
    )
    title = str(values.get(title_property(schema) or "", "")) or title_of(content)
    by = f" by {content.uploader}" if content.uploader else ""
    parts = [f"{kind}{by}: {title.rstrip('.')}."]
    if _english(content) and (said := spoken.intro(content.transcript)):
        parts.append(said)
    for name, prop in schema.items():
        value = values.get(name)
        if prop["type"] == "multi_select" and value:
            parts.append(
                f"{len(value)} {name.replace('_', ' ')}: {_listed(list(map(str, value)))}."
            )
        elif prop["type"] == "rich_text" and STEPS_NAME.search(name) and value:
            steps = re.findall(r"^\d+\. (.+)$", str(value), re.M)
            if len(steps) > 1:
                parts.append(
                    f"{len(steps)} {name.replace('_', ' ')}, from “{_short(steps[0])}” "
                    f"to “{_short(steps[-1])}”."
                )
    return " ".join(parts)
