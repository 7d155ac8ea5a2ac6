"""Platform subtitles (WebVTT or SubRip) as transcript segments.

Handles what the platforms actually send: WebVTT headers, NOTE and STYLE blocks, cue settings,
inline timestamps and <c> tags (YouTube automatic captions), and rolling captions where each cue
repeats the previous cue's line before adding a new one.
"""

from __future__ import annotations

import html
import re

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]*>")

# ISO 639-2 codes TikTok uses (eng-US, spa-ES, ...) to the 639-1 codes Whisper reports.
_ISO3 = {
    "eng": "en",
    "spa": "es",
    "fra": "fr",
    "fre": "fr",
    "deu": "de",
    "ger": "de",
    "ita": "it",
    "por": "pt",
    "jpn": "ja",
    "kor": "ko",
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "rus": "ru",
    "ara": "ar",
    "hin": "hi",
    "ind": "id",
    "tur": "tr",
    "vie": "vi",
    "tha": "th",
    "nld": "nl",
    "dut": "nl",
    "pol": "pl",
    "ukr": "uk",
    "swe": "sv",
    "ron": "ro",
    "msa": "ms",
    "fil": "tl",
}


def language_code(key: str) -> str:
    """'eng-US', 'en-orig', 'pt-BR', 'es' -> 'en', 'en', 'pt', 'es'."""
    base = re.split(r"[-_]", key.strip().lower())[0] if key else ""
    return _ISO3.get(base, base)


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def parse(text: str) -> list[dict]:
    """Segments [{start, end, text}] in order, rolling repeats removed; [] if not subtitles."""
    segments: list[dict] = []
    previous_lines: list[str] = []
    for block in re.split(r"\r?\n\s*\r?\n", text.replace("\ufeff", "")):
        lines = [line for line in block.splitlines() if line.strip()]
        timing = next((i for i, line in enumerate(lines) if _CUE.match(line)), None)
        if timing is None:
            continue  # WEBVTT header, NOTE, STYLE, REGION
        match = _CUE.match(lines[timing])
        assert match is not None
        start = _seconds(*match.group(1, 2, 3, 4))
        end = _seconds(*match.group(5, 6, 7, 8))
        cue_lines = [
            re.sub(r"\s+", " ", html.unescape(_TAG.sub("", line))).strip()
            for line in lines[timing + 1 :]
        ]
        cue_lines = [line for line in cue_lines if line]
        fresh = [line for line in cue_lines if line not in previous_lines]
        if cue_lines:
            previous_lines = cue_lines
        if not fresh or end - start < 0.02:  # zero-length cues: YouTube's rolling duplicates
            continue
        content = " ".join(fresh)
        if segments and segments[-1]["text"] == content:
            segments[-1]["end"] = round(end, 2)
            continue
        segments.append({"start": round(start, 2), "end": round(end, 2), "text": content})
    return segments
