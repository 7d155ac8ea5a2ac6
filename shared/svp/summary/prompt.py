"""The LLM's inputs: labelled sections, each trimmed to a stated budget at a word boundary."""

from __future__ import annotations

from svp.summary.content import Content

BUDGET = {"caption": 4000, "transcript": 12000, "screen": 4000}


def trim(text: str, budget: int) -> str:
    text = text.strip()
    if len(text) <= budget:
        return text
    cut = text.rfind(" ", 0, budget)
    return text[: cut if cut > 0 else budget] + f" […trimmed to {budget} characters]"


def build_prompt(content: Content, prompt: str = "") -> str:
    source = "speech" if content.transcript_engine not in ("", "none") else "none"
    sections = [
        f"Tag: {content.tag}",
        f"Source URL: {content.url or '(uploaded file)'}",
        f"Uploader: {content.uploader or 'unknown'}",
        f"## Caption\n{trim(content.caption, BUDGET['caption']) or '(none)'}",
        f"## Transcript (language: {content.language or 'unknown'}, source: {source})\n"
        f"{trim(content.transcript, BUDGET['transcript']) or '(no speech)'}",
        f"## On-screen text\n{trim(content.screen_text, BUDGET['screen']) or '(none)'}",
    ]
    instructions = (
        "You turn a short social video into one structured entry of a Notion database. "
        "Fill each field of the JSON schema from the material below; use only facts it "
        "contains, leave a field out when the material does not say. Write in the language "
        "of the video."
    )
    if prompt:
        instructions += f"\nThe database owner adds: {prompt}"
    return instructions + "\n\n" + "\n\n".join(sections)
