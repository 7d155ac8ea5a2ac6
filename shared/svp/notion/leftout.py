"""What registration says about a Content Database's properties the summary does not fill:
who fills them instead, or that nobody does (issue 18 item 18)."""

from __future__ import annotations

from typing import Any

from svp.summary.json_schema import field_for

# Property types the pipeline itself fills, and how.
PIPELINE_FILLS = {
    "files": "gets the video's picture",
    "people": "gets the person who saved the link (when Notion says who)",
}
# Property types Notion computes or a person sets in Notion.
NOTION_FILLS = ("formula", "rollup", "created_time", "created_by", "last_edited_time")
NOTION_FILLS += ("last_edited_by", "unique_id")


def left_out(schema: dict[str, dict[str, Any]]) -> list[str]:
    """One line per property the summary's response schema leaves out, saying why."""
    lines = []
    for name, prop in schema.items():
        kind = prop.get("type", "")
        if kind == "title" or field_for({**prop, "name": name}) is not None:
            continue
        if kind in PIPELINE_FILLS:
            why = PIPELINE_FILLS[kind]
        elif kind in NOTION_FILLS:
            why = "Notion fills it"
        elif kind == "status":
            why = "not filled: it has no options yet"
        elif kind == "button":
            why = "a button holds no value"
        else:
            why = "not filled: the summary cannot write this type"
        lines.append(f"{name} ({kind}): {why}")
    return lines
