"""The page on one machine: Markdown in the output folder, named by its title.

Written by the writer stage when no Notion Content Database is registered for the tag. The
file is named after the page's title (`tomato-basil-pasta.md`), unique in the folder: a
name another job holds gets a number (`tomato-basil-pasta-2.md`); the job that holds a name
finds it again (a retried writer rewrites its own page). A marker comment in the file says
which job holds it; the name is reserved with an exclusive create, so two writers never share
one.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from svp.notion.body import review_notice, throughout, transcript_section

MAX_SLUG = 60


def slug(title: str) -> str:
    """A file name from a title: ASCII words joined by '-' ("Tomato Basil Pasta" ->
    "tomato-basil-pasta"); 'page' when nothing is left."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", plain.lower())
    name = ""
    for word in words:
        if len(name) + len(word) + 1 > MAX_SLUG:
            break
        name = f"{name}-{word}" if name else word
    return name or "page"


def marker(job_id: str) -> str:
    return f"<!-- svp job {job_id} -->"


def reserve(folder: Path, title: str, job_id: str) -> Path:
    """The page's path: its title's slug, numbered when another job holds that name."""
    folder.mkdir(parents=True, exist_ok=True)
    base = slug(title)
    for number in range(1, 1000):
        path = folder / (f"{base}.md" if number == 1 else f"{base}-{number}.md")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if marker(job_id) in path.read_text(errors="replace"):
                return path  # this job's page, from an earlier attempt
            continue
        with os.fdopen(fd, "w") as file:
            file.write(marker(job_id) + "\n")
        return path
    return folder / f"{job_id}.md"


def source_line(link: dict[str, Any]) -> str:
    """Where the video came from: its link, or the local file it was made from."""
    if url := link.get("url"):
        return f"Source: {url}"
    if name := link.get("file"):
        return f"Source: local file `{name}`"
    return ""


def _listed(text: str) -> list[str]:
    return [f"- {line.strip()}" for line in text.splitlines() if line.strip()]


def _property(name: str, value: Any, where: str) -> list[str]:
    """One property as a list item; several lines (numbered steps) as a list under it."""
    note = f" _({where})_" if where else ""
    if isinstance(value, list):
        return [f"- **{name}**: {', '.join(map(str, value))}{note}"]
    lines = [line for line in str(value).splitlines() if line.strip()]
    if len(lines) <= 1 and not re.match(r"1\. ", str(value).strip()):
        return [f"- **{name}**: {str(value).strip()}{note}"]
    nested = [f"  {line}" if re.match(r"\d+\. ", line) else f"  - {line}" for line in lines]
    return [f"- **{name}**:{note}", *nested]


def _clock(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _screen(lines: list[dict[str, Any]]) -> list[str]:
    """On-screen text as a list, one line each, with the time it first showed."""
    shown = []
    for line in lines:
        if text := str(line.get("text", "")).strip():
            at = _clock(line.get("seconds"))
            shown.append(f"- {text}" + (f" _({at})_" if at else ""))
    return shown


def markdown(
    title: str,
    properties: dict[str, Any],
    summary: dict[str, Any],
    link: dict[str, Any],
    evidence: dict[str, str] | None = None,
    pictures: list[tuple[str, str]] | None = None,
) -> str:
    """One item's page as Markdown; `pictures`: (path relative to the page, caption)."""
    pictures = pictures or []
    evidence = evidence or {}
    content = summary.get("content", {})
    lines = [f"# {title}", ""]
    if notice := review_notice(summary):
        lines += [f"> ⚠️ {notice}", ""]
    if pictures:
        lines += [f"![{pictures[0][1]}]({pictures[0][0]})", ""]
    if text := (summary.get("summary") or "").strip():
        lines += [text, ""]
    for name, value in properties.items():
        lines += _property(name, value, evidence.get(name, ""))
    sections: list[tuple[str, list[str]]] = [
        ("Caption", [(content.get("caption") or "").strip()]),
        _transcript_section(content),
        ("On-screen text", _screen(content.get("screen_lines", []))),
        ("On screen throughout", _listed(throughout(content.get("persistent_lines", [])))),
    ]
    for heading, body in sections:
        if any(part for part in body):
            lines += ["", f"## {heading}", "", *body]
    if len(pictures) > 1:
        lines += ["", "## More images", ""]
        lines += [f"![{caption}]({path})" for path, caption in pictures[1:]]
    if source := source_line(link):
        lines += ["", source]
    return "\n".join(lines) + "\n"


def _transcript_section(content: dict[str, Any]) -> tuple[str, list[str]]:
    heading, text = transcript_section(content)
    return heading, [text]
