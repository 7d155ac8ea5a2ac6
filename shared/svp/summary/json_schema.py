"""A Notion database schema as the JSON schema the model must answer in."""

from __future__ import annotations

from typing import Any

from svp.summary.targets import Schema

_FORMATS = {"url": "a URL", "email": "an email address", "phone_number": "a phone number"}


def _field(prop: dict[str, Any]) -> dict[str, Any] | None:
    kind = prop["type"]
    description = prop.get("description") or prop["name"]
    if kind in ("title", "rich_text"):
        return {"type": "string", "description": description}
    if kind == "number":
        return {"type": "number", "description": description}
    if kind == "checkbox":
        return {"type": "boolean", "description": description}
    if kind == "date":
        return {"type": "string", "description": f"{description} (ISO date, YYYY-MM-DD)"}
    if kind in _FORMATS:
        return {"type": "string", "description": f"{description} ({_FORMATS[kind]})"}
    options = (
        [o["name"] for o in prop.get(kind, {}).get("options", [])]
        if kind in ("select", "status", "multi_select")
        else []
    )
    if kind == "status" and options:
        return {"type": "string", "enum": options, "description": description}
    if kind == "select":
        hint = f" (preferably one of: {', '.join(options)})" if options else ""
        return {"type": "string", "description": description + hint}
    if kind == "multi_select":
        hint = f" (prefer existing options: {', '.join(options)})" if options else ""
        return {"type": "array", "items": {"type": "string"}, "description": description + hint}
    return None  # relation, people, files, formulas: not for the model to fill


def response_schema(schema: Schema) -> dict[str, Any]:
    fields = {name: f for name, prop in schema.items() if (f := _field(prop)) is not None}
    title = next((name for name, p in schema.items() if p["type"] == "title"), None)
    return {
        "type": "object",
        "properties": fields,
        "required": [title] if title else [],
    }
