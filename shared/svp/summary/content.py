"""Everything the stages learned about one post, gathered for the summarizer and the page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

URL_RE = re.compile(r"https?://[^\s<>\"')\]]+")
HASHTAG_RE = re.compile(r"#(\w[\w-]*)", re.UNICODE)


@dataclass
class Content:
    url: str
    tag: str
    title: str = ""
    caption: str = ""
    uploader: str = ""
    transcript: str = ""
    language: str = ""
    transcript_engine: str = ""
    transcript_source: str = ""  # "subtitles" | "speech" | "none" ("" from older jobs)
    segments: list[dict] = field(default_factory=list)
    screen_lines: list[dict] = field(default_factory=list)
    # On screen throughout (watermarks, handles, counters): shown on the page, never summarized.
    persistent_lines: list[dict] = field(default_factory=list)
    # Why the transcript is missing or partial ("speech in Portuguese: set ..."), for the page.
    transcript_notice: str = ""

    @property
    def screen_text(self) -> str:
        """The on-screen text that is content (never the persistent lines)."""
        return "\n".join(line["text"] for line in self.screen_lines)

    @property
    def hashtags(self) -> list[str]:
        return list(dict.fromkeys(HASHTAG_RE.findall(self.caption)))

    def urls(self) -> list[str]:
        found = URL_RE.findall("\n".join((self.caption, self.screen_text, self.transcript)))
        return [u.rstrip(".,;") for u in dict.fromkeys(found) if u.rstrip(".,;") != self.url]
