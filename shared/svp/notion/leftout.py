"""What registration says about a Content Database's properties the summary does not fill:
who fills them instead, or that nobody does (issue 18 item 18)."""

from __future__ import annotations

from typing import Any

from svp.summary import fillers
from svp.summary.json_schema import field_for


def left_out(schema: dict[str, dict[str, Any]]) -> list[str]:
    """One line per property the summary's response schema leaves out, saying why."""
    lines = []
    for name, prop in schema.items():
        kind = prop.get("type", "")
        if kind == "title" or field_for({**prop, "name": name}) is not None:
            continue
        if kind in fillers.PIPELINE:
            why = fillers.PIPELINE[kind]
        elif kind in fillers.NOTION:
            why = "Notion fills it"
        elif kind == "status":
            why = "not filled: it has no options yet"
        elif kind == "button":
            why = "a button holds no value"
        else:
            why = "not filled: the summary cannot write this type"
        lines.append(f"{name} ({kind}): {why}")
    return lines
