"""A Notion database schema as the JSON schema the model must answer in.

Each fillable Notion property becomes one field:

| Notion type | JSON field |
|---|---|
| title, rich_text | string |
| number | number |
| checkbox | boolean |
| date | string, format date (YYYY-MM-DD) |
| url, email, phone_number | string, with a format hint (`format: email`; url and phone in words) |
| select | string; existing options listed, new ones allowed (Notion creates them) |
| status | one of the existing options (`enum`): the API cannot create status options |
| multi_select | array of strings; existing options preferred, new ones allowed |

relation becomes an array of the related entries' titles (the writer finds them). people, files
and the read-only types (formula, rollup, created_time, ...) are not the model's to fill and
are left out, as is the property that marks a page for review (the pipeline sets it). The
field's description is the property's own description when the database has one, else its
name.

Shapes: one item is a flat object of the fields (plus `SUMMARY_KEY`); with `many` the object is
`{SUMMARY_KEY: str, "items": [ {fields...}, ... ]}`. `strict=True` gives the variant OpenAI's
strict structured outputs require: every field listed in `required`, optional ones nullable,
`additionalProperties: false` on every object.
"""

from __future__ import annotations

import copy
from typing import Any

from svp.summary import fillers
from svp.summary.targets import Schema, review_mark, title_property

OPTION_TYPES = ("select", "multi_select", "status")
ITEMS_KEY = "items"
_HINTS = {
    "url": "an absolute http(s) URL",
    "email": "an email address",
    "phone_number": "a phone number with its country code when known",
}


def options_of(prop: dict[str, Any]) -> list[str]:
    """The option names of a select, multi_select or status property (empty for others)."""
    kind = prop.get("type")
    if kind not in OPTION_TYPES:
        return []
    spec = prop.get(kind) or {}
    raw = spec.get("options", []) if isinstance(spec, dict) else []
    names = [o["name"] if isinstance(o, dict) else str(o) for o in raw]
    return [n for n in names if n]


# Notion type -> (JSON type, hint added to the description) of the simple fields.
_SIMPLE = {
    "title": ("string", "the entry's title, short"),
    "rich_text": ("string", ""),
    "number": ("number", "a number, no unit"),
    "checkbox": ("boolean", ""),
    **{kind: ("string", hint) for kind, hint in _HINTS.items()},
}


def field_for(prop: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of one Notion property, or None when the model must not fill it."""
    kind = prop["type"]
    if kind not in fillers.MODEL:
        return None  # people, files, formulas...: not for the model to fill
    name = prop.get("name", "")
    described = (prop.get("description") or "").strip()
    description = f"{name}: {described}" if described else name
    if kind in _SIMPLE:
        json_type, hint = _SIMPLE[kind]
        shown = f"{description} ({hint})" if hint else description
        field = {"type": json_type, "description": shown}
        if kind == "email":
            field["format"] = "email"
        return field
    if kind == "date":
        return {
            "type": "string",
            "format": "date",
            "description": f"{description} (ISO date, YYYY-MM-DD)",
        }
    if kind in OPTION_TYPES:
        return _option_field(kind, description, options_of(prop))
    if kind == "relation":
        return {
            "type": "array",
            "items": {"type": "string"},
            "description": f"{description} (titles of entries of the database it relates to, "
            "as written there)",
        }
    raise AssertionError(f"fillers.MODEL has {kind!r}, which field_for does not know")


def _option_field(kind: str, description: str, options: list[str]) -> dict[str, Any] | None:
    listed = ", ".join(options)
    if kind == "status":
        if not options:
            return None  # status options cannot be created through the API
        return {"type": "string", "enum": options, "description": f"{description} (one option)"}
    if kind == "select":
        hint = (
            f" (one value; prefer one of: {listed}; a new value is allowed)"
            if options
            else " (one short value)"
        )
        return {"type": "string", "description": description + hint}
    hint = (
        f" (short tags without commas; prefer existing ones: {listed})"
        if options
        else " (short tags without commas)"
    )
    return {"type": "array", "items": {"type": "string"}, "description": description + hint}


def fillable(schema: Schema) -> dict[str, dict[str, Any]]:
    """Property name -> JSON field, for the properties the model fills (not the one that
    marks a page for review: the pipeline sets that)."""
    mark = review_mark(schema)
    skip = mark.name if mark and mark.kind != "status" else None
    return {
        name: f
        for name, prop in schema.items()
        if name != skip and (f := field_for(prop)) is not None
    }


def summary_key(schema: Schema) -> str:
    """A key for the one-paragraph summary that no property of the schema uses."""
    key = "_summary"
    while key in schema:
        key = "_" + key
    return key


def item_schema(schema: Schema) -> dict[str, Any]:
    title = title_property(schema)
    return {"type": "object", "properties": fillable(schema), "required": [title] if title else []}


def response_schema(schema: Schema, many: bool = False, strict: bool = False) -> dict[str, Any]:
    """The JSON schema of the whole answer (see the module docstring for the shapes)."""
    summary = {
        "type": "string",
        "description": "one or two sentences saying what the video is about",
    }
    if many:
        item = item_schema(schema)
        item["description"] = "one entry per distinct item the video presents, in order"
        answer: dict[str, Any] = {
            "type": "object",
            "properties": {
                summary_key(schema): summary,
                ITEMS_KEY: {
                    "type": "array",
                    "description": "every item the video presents (one when it presents one)",
                    "items": item,
                },
            },
            "required": [ITEMS_KEY],
        }
    else:
        answer = item_schema(schema)
        answer["properties"][summary_key(schema)] = summary
    return strictly(answer) if strict else answer


def strictly(node: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's strict mode: all keys required, optional ones nullable, no extra keys."""
    node = copy.deepcopy(node)
    _strict(node)
    return node


def _strict(node: dict[str, Any]) -> None:
    if node.get("type") == "object":
        required = set(node.get("required", []))
        for key, child in node["properties"].items():
            _strict(child)
            if key not in required:
                _nullable(child)
        node["required"] = list(node["properties"])
        node["additionalProperties"] = False
    elif node.get("type") == "array":
        _strict(node["items"])


def _nullable(node: dict[str, Any]) -> None:
    kind = node["type"]
    node["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
    if "enum" in node:
        node["enum"] = [*node["enum"], None]
