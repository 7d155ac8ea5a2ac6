"""The page body a person checks: its picture, summary, caption, transcript, on-screen text,
source link."""

from __future__ import annotations

from typing import Any

from svp.notion.properties import rich_text


def _paragraphs(text: str) -> list[dict]:
    return [
        {"object": "block", "type": "paragraph", "paragraph": {"rich_text": rich_text(part)}}
        for part in text.split("\n\n")
        if part.strip()
    ][:20]


def _toggle(title: str, text: str) -> dict:
    return {
        "object": "block",
        "type": "toggle",
        "toggle": {"rich_text": rich_text(title), "children": _paragraphs(text)},
    }


def sections(summary: dict[str, Any]) -> list[tuple[str, str]]:
    content = summary["content"]
    screen = "\n".join(line["text"] for line in content.get("screen_lines", []))
    return [
        ("Summary", summary.get("summary", "")),
        ("Caption", content.get("caption", "")),
        transcript_section(content),
        ("On-screen text", screen),
        ("On screen throughout", throughout(content.get("persistent_lines", []))),
    ]


def transcript_section(content: dict[str, Any]) -> tuple[str, str]:
    """(heading, text) of the transcript: its language, where it came from (the platform's
    subtitles or speech recognition) and which model heard it, so a person knows how far to
    trust it."""
    about = [content.get("language", ""), content.get("transcript_source", "")]
    engine = content.get("transcript_engine", "")
    heard = content.get("transcript_source") != "subtitles"
    if engine and engine not in ("none", "platform") and heard:
        about.append(f"heard by {engine}")
    heading = "Transcript" + (f" ({', '.join(a for a in about if a)})" if any(about) else "")
    text = (content.get("transcript") or "").strip()
    if notice := content.get("transcript_notice", ""):  # e.g. speech the model cannot read
        text = f"{notice}\n\n{text}" if text else notice
    return heading, text


def throughout(lines: list[dict[str, Any]]) -> str:
    """Watermarks, handles and counters, apart from the content: one line each."""
    return "\n".join(
        f"{line['text']} (changing: a counter or clock)" if line.get("changing") else line["text"]
        for line in lines
    )


def review_notice(summary: dict[str, Any]) -> str:
    if not summary.get("needs_review"):
        return ""
    return "Needs review: " + ("; ".join(summary.get("notes", [])) or "filled without an LLM")


def evidence_lines(evidence: dict[str, str]) -> list[str]:
    """Where each filled property came from, so a person can check it quickly."""
    return [f"{name}: {where}" for name, where in evidence.items() if where]


def _image(file: dict[str, Any], caption: str) -> dict:
    """An image block; `file` is a Notion file object (`file_upload` or `external`)."""
    return {"object": "block", "type": "image", "image": {**file, "caption": rich_text(caption)}}


def picture_blocks(pictures: list[tuple[dict[str, Any], str]]) -> list[dict]:
    """The first picture (the cover's) as an image block; the others (a photo post's images)
    in a toggle, so that the summary stays near the top."""
    if not pictures:
        return []
    shown = [_image(*pictures[0])]
    if rest := pictures[1:]:
        images = [_image(*picture) for picture in rest]
        toggle = {"rich_text": rich_text(f"More images ({len(rest)})"), "children": images}
        shown.append({"object": "block", "type": "toggle", "toggle": toggle})
    return shown


def blocks(
    summary: dict[str, Any],
    source_url: str,
    evidence: dict[str, str] | None = None,
    pictures: list[tuple[dict[str, Any], str]] | None = None,
) -> list[dict]:
    """The page's children; `pictures`: (Notion file object, caption), the cover's first."""
    children: list[dict] = []
    if notice := review_notice(summary):
        children.append(
            {
                "object": "block",
                "type": "callout",
                "callout": {
                    "rich_text": rich_text(notice),
                    "icon": {"type": "emoji", "emoji": "⚠️"},
                },
            }
        )
    children += picture_blocks(pictures or [])
    if lines := evidence_lines(evidence or {}):
        children.append(_toggle("Where each value came from", "\n\n".join(lines)))
    for title, text in sections(summary):
        if text.strip():
            children.append(_toggle(title, text))
    if source_url:
        children.append({"object": "block", "type": "bookmark", "bookmark": {"url": source_url}})
    return children


def markdown(
    title: str,
    properties: dict[str, Any],
    summary: dict[str, Any],
    source: str,
    evidence: dict[str, str] | None = None,
    pictures: list[tuple[str, str]] | None = None,
) -> str:
    """The page as Markdown; `pictures`: (path relative to the page, caption)."""
    pictures = pictures or []
    lines = [f"# {title}", ""]
    if notice := review_notice(summary):
        lines += [f"> ⚠️ {notice}", ""]
    if pictures:
        lines += [_markdown_image(*pictures[0]), ""]
    evidence = evidence or {}
    for name, value in properties.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        where = f" _({evidence[name]})_" if evidence.get(name) else ""
        lines.append(f"- **{name}**: {shown}{where}")
    for heading, text in sections(summary):
        if text.strip():
            lines += ["", f"## {heading}", "", text.strip()]
    if len(pictures) > 1:
        lines += ["", "## More images", ""]
        lines += [_markdown_image(*picture) for picture in pictures[1:]]
    if source:
        lines += ["", f"Source: {source}"]
    return "\n".join(lines) + "\n"


def _markdown_image(path: str, caption: str) -> str:
    return f"![{caption}]({path})"
