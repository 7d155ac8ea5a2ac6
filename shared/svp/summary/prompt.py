"""The LLM's inputs: instructions, then labelled sections within a stated character budget.

The budget (`SVP_LLM_INPUT_CHARS`) is shared by the caption, the transcript and the on-screen
text: short sections keep all their text and leave their share to the long ones. A section
over its share is cut at a word boundary and says so ("[… trimmed: first N of M characters]").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from svp.summary.content import Content


@dataclass
class Prompt:
    system: str
    user: str
    trimmed: list[str] = field(default_factory=list)  # "transcript: 4000 of 9000 characters"


def trim(text: str, budget: int) -> str:
    """`text` cut to at most `budget` characters at a word boundary, with a marker saying so."""
    text = text.strip()
    if len(text) <= budget:
        return text
    last_space = re.search(r"\s\S*$", text[: budget + 1])
    cut = last_space.start() if last_space and last_space.start() > 0 else budget  # one huge word
    kept = text[:cut].rstrip()
    return f"{kept} […trimmed: first {len(kept)} of {len(text)} characters]"


def shares(lengths: dict[str, int], budget: int) -> dict[str, int]:
    """Split `budget` so short sections keep everything and long ones share the rest."""
    allowed: dict[str, int] = {}
    left, remaining = budget, len(lengths)
    for name, length in sorted(lengths.items(), key=lambda item: item[1]):
        allowed[name] = min(length, left // remaining)
        left -= allowed[name]
        remaining -= 1
    return allowed


def transcript_source(content: Content) -> str:
    """subtitles, speech or none: as the transcriber recorded it, else from its engine."""
    if content.transcript_source:
        return content.transcript_source
    engine = (content.transcript_engine or "").lower()
    if "subtitle" in engine or "caption" in engine:
        return "subtitles"
    return "none" if engine in ("", "none") else "speech"


def build_prompt(
    content: Content,
    *,
    budget: int = 24000,
    user_prompt: str = "",
    many: bool = False,
    language: str = "",
) -> Prompt:
    texts = {
        "caption": content.caption.strip(),
        "transcript": content.transcript.strip(),
        "on-screen text": content.screen_text.strip(),
    }
    allowed = shares({k: len(v) for k, v in texts.items()}, budget)
    kept = {name: trim(text, allowed[name]) for name, text in texts.items()}
    trimmed = [
        f"{name}: first {allowed[name]} of {len(text)} characters sent"
        for name, text in texts.items()
        if len(text) > allowed[name]
    ]
    hashtags = " ".join(f"#{tag}" for tag in content.hashtags)
    header = [
        f"Tag: {content.tag}",
        f"Video title: {content.title or '(none)'}",
        f"Source URL: {content.url or '(uploaded file)'}",
        f"Uploader: {content.uploader or 'unknown'}",
        f"Hashtags: {hashtags or '(none)'}",
        f"Input budget: {budget} characters for the sections below; a longer section is "
        "trimmed at a word boundary and says so.",
    ]
    sections = [
        f"## Caption\n{kept['caption'] or '(none)'}",
        f"## Transcript (language: {content.language or 'unknown'}, "
        f"source: {transcript_source(content)})\n"
        f"{kept['transcript'] or _no_transcript(content)}",
        f"## On-screen text\n{kept['on-screen text'] or '(none)'}",
    ]
    return Prompt(
        system=instructions(content, user_prompt=user_prompt, many=many, language=language),
        user="\n".join(header) + "\n\n" + "\n\n".join(sections),
        trimmed=trimmed,
    )


def _no_transcript(content: Content) -> str:
    """Why the transcript is empty: no speech, or speech the local model could not read."""
    if content.transcript_notice:
        return f"(not transcribed: {content.transcript_notice})"
    return "(no speech)"


def instructions(content: Content, *, user_prompt: str, many: bool, language: str) -> str:
    kind = f' tagged "{content.tag}"' if content.tag else ""
    lines = [
        f"You turn a short social video{kind} into structured entries of the user's Notion "
        "database. The JSON schema's fields are the database's properties; their descriptions "
        "say what each holds.",
        "Use only facts found in the caption, transcript, on-screen text or other material "
        "below; leave a field out (or null) when the material does not say. Never invent URLs, "
        "addresses, phone numbers, prices or dates.",
        "For option fields keep an existing option's exact name when one fits; a status field "
        "must be one of its options.",
    ]
    if many:
        lines.append(
            'The video may present several items (for example "five cafés in Lisbon"): put one '
            'entry per distinct item in "items", in the order the video presents them, each '
            "with only the facts about that item. A video about one thing gives one entry."
        )
    else:
        lines.append("Answer with one entry for the video as a whole.")
    if language:
        lines.append(
            f"Write every text value in {language}, translating when needed; existing option "
            "names stay as they are."
        )
    else:
        spoken = f" ({content.language})" if content.language else ""
        lines.append(f"Write in the language of the video{spoken}; do not translate.")
    if user_prompt.strip():
        lines.append(f"The database owner adds: {user_prompt.strip()}")
    return "\n".join(lines)
