"""Where each filled value came from, so a person can check it quickly.

Every value is looked up in the post's own material: the caption, each transcript segment
(with its start time), each on-screen line (with the second it first appeared, or the image
of a photo post), the video's title, the uploader and the link. Words are compared after
lower-casing, removing accents and common words, and reading number words as digits, so
"Boil the spaghetti for ten minutes" backs "boil spaghetti 10 minutes". The answer is
human-readable: "caption", "transcript at 0:12", "on-screen text at 0:04 and 0:08",
"text in image 2", "the video's link", or "not found in the sources (the model's wording)"
when nothing backs it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from svp.summary.content import Content
from svp.summary.validate import NUMBER_WORDS

NOT_FOUND = "not found in the sources (the model's wording)"
INFERRED = "inferred (a yes/no the sources do not state word for word)"
_STOP = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "then",
        "this",
        "to",
        "was",
        "were",
        "we",
        "with",
        "you",
        "your",
        "our",
        "i",
        "my",
        "de",
        "la",
        "le",
        "el",
        "et",
        "y",
    )
)
_NUMBERS = {word: str(i) for i, word in enumerate(NUMBER_WORDS)}


def clock(seconds: float | None) -> str:
    total = int(seconds or 0)
    return f"{total // 60}:{total % 60:02d}"


def words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", str(text).lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    found = []
    for word in re.findall(r"\w+", plain):
        word = _NUMBERS.get(word, word)
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.append(word)
    return found


def _content_words(text: str) -> set[str]:
    every = words(text)
    kept = {w for w in every if w not in _STOP}
    return kept or set(every)


@dataclass(frozen=True)
class Unit:
    kind: str  # "caption", "transcript", "on-screen text", "video title", "uploader"
    seconds: float | None
    text: str
    words: frozenset[str]


def units_of(content: Content) -> list[Unit]:
    found: list[Unit] = []

    def add(kind: str, seconds: float | None, text: str) -> None:
        if text and text.strip():
            found.append(Unit(kind, seconds, text, frozenset(_content_words(text))))

    for line in content.caption.splitlines():
        add("caption", None, line)
    if content.segments:
        for segment in content.segments:
            add("transcript", segment.get("start"), segment.get("text", ""))
    else:
        add("transcript", None, content.transcript)
    for line in content.screen_lines:
        if line.get("seconds") is None and line.get("image") is not None:  # an image post
            add(f"text in image {int(line['image']) + 1}", None, line.get("text", ""))
        else:
            add("on-screen text", line.get("seconds"), line.get("text", ""))
    add("video title", None, content.title)
    add("uploader", None, content.uploader)
    return found


def _sources(text: str, units: list[Unit]) -> list[Unit] | None:
    """The few units that together contain most of the text's words, or None."""
    wanted = _content_words(text)
    if not wanted:
        return None
    chosen: list[Unit] = []
    covered: set[str] = set()
    while len(chosen) < 3:
        best, best_key = None, (0, 0.0)
        for unit in units:
            if unit in chosen:
                continue
            new = len((wanted - covered) & unit.words)
            key = (new, new / max(len(unit.words), 1))  # more new words, then a tighter line
            if new and key > best_key:
                best, best_key = unit, key
        if best is None:
            break
        chosen.append(best)
        covered |= wanted & best.words
        if len(covered) >= 0.8 * len(wanted):
            break
    return chosen if len(covered) >= 0.5 * len(wanted) else None


def describe(found: list[Unit]) -> str:
    """Units as readable text, grouped by kind: "transcript at 0:03 and 0:09; caption"."""
    kinds: dict[str, list[float | None]] = {}
    for unit in found:
        kinds.setdefault(unit.kind, []).append(unit.seconds)
    parts = []
    for kind, times in kinds.items():
        stamps = sorted({clock(t) for t in times if t is not None}, key=_clock_key)
        if stamps:
            shown = ", ".join(stamps[:-1]) + " and " + stamps[-1] if len(stamps) > 1 else stamps[0]
            parts.append(f"{kind} at {shown}")
        else:
            parts.append(kind)
    return "; ".join(parts)


def _clock_key(stamp: str) -> int:
    minutes, seconds = stamp.split(":")
    return int(minutes) * 60 + int(seconds)


def locate(value: Any, content: Content, units: list[Unit] | None = None) -> str:
    """Where `value` (a plain property value) can be checked, in words."""
    units = units_of(content) if units is None else units
    if isinstance(value, bool):
        return INFERRED
    if isinstance(value, str) and content.url and value.strip() == content.url:
        return "the video's link"
    if isinstance(value, str) and re.match(r"https?://", value):
        hits = [u for u in units if value.rstrip("/") in u.text]
        return describe(hits[:1]) if hits else NOT_FOUND
    if isinstance(value, list):
        found: list[Unit] = []
        missing = 0
        for element in value:
            sources = _sources(str(element), units)
            if sources:
                found += [u for u in sources if u not in found]
            else:
                missing += 1
        if not found:
            return NOT_FOUND
        text = describe(found)
        return text + (f" ({missing} of {len(value)} not found in the sources)" if missing else "")
    sources = _sources(str(value), units)
    return describe(sources) if sources else NOT_FOUND


def evidence_for(items: list[dict[str, Any]], content: Content) -> list[dict[str, str]]:
    """One {property name: where it came from} per item, for every filled property."""
    units = units_of(content)
    return [{name: locate(value, content, units) for name, value in item.items()} for item in items]
