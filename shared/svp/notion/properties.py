"""Plain Python values <-> Notion property values, within Notion's limits.

One coercion for every value that reaches Notion: svp.summary.validate.coerce (the model's
answers, the extractive summary's, the pipeline's own). Encoding then only shapes: text is
split into objects of at most 2000 characters, lists are cut at Notion's 100 items, over-long
URLs are dropped; nothing is sent that Notion would reject with a 400.
"""

from __future__ import annotations

from typing import Any

from svp.summary.validate import coerce

TEXT_OBJECT_LIMIT = 2000  # UTF-16 code units in one text object (JavaScript's length)
RICH_TEXT_ITEMS = 100
MULTI_SELECT_LIMIT = 100
RELATION_LIMIT = 100  # ids in one relation or people value
URL_LIMIT = 2000
SHORT_LIMIT = 200  # email and phone_number


def utf16_len(text: str) -> int:
    """Notion counts its limits in UTF-16 code units: an emoji is 2, not 1."""
    return len(text.encode("utf-16-le")) // 2


def _fitting(text: str, limit: int) -> int:
    """How many code points of `text` fit in `limit` UTF-16 units."""
    units = 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def rich_text(text: str) -> list[dict]:
    """Split text into at most 100 text objects of at most 2000 UTF-16 units, at word breaks."""
    chunks: list[str] = []
    rest = str(text)
    while rest and len(chunks) < RICH_TEXT_ITEMS:
        fit = _fitting(rest, TEXT_OBJECT_LIMIT)
        if fit == len(rest):
            chunks.append(rest)
            break
        cut = rest.rfind(" ", 0, fit) + 1 or fit
        chunks.append(rest[:cut])
        rest = rest[cut:]
    return [{"type": "text", "text": {"content": chunk}} for chunk in chunks]


def encode(prop_type: str, value: Any) -> dict | None:
    """The write shape of a valid plain value (svp.summary.validate.coerce makes one) within
    Notion's limits, or None to leave the property empty."""
    if value is None or value == "" or value == []:
        return None
    if prop_type in ("title", "rich_text"):
        return {prop_type: rich_text(str(value))}
    if prop_type in ("select", "status"):
        return {prop_type: {"name": str(value)}}
    if prop_type == "multi_select":
        return {"multi_select": [{"name": str(name)} for name in value[:MULTI_SELECT_LIMIT]]}
    if prop_type in ("url", "email", "phone_number"):
        limit = URL_LIMIT if prop_type == "url" else SHORT_LIMIT
        return {prop_type: str(value)} if utf16_len(str(value)) <= limit else None
    if prop_type == "date":
        return {"date": {"start": str(value)}}
    if prop_type == "files":
        return {
            "files": [{"type": "external", "name": u[-100:], "external": {"url": u}} for u in value]
        }
    if prop_type in ("relation", "people"):  # page or user ids
        return {prop_type: [{"id": str(i)} for i in value[:RELATION_LIMIT]]}
    if prop_type in ("number", "checkbox"):
        return {prop_type: value}
    return None  # formula, rollup...: not written


def encode_properties(schema: dict[str, dict], values: dict[str, Any]) -> dict[str, dict]:
    """Notion properties for the values whose names are in the schema, each coerced first
    (svp.summary.validate.coerce): a value that cannot be made valid for its property (a
    status option that does not exist: the API cannot create one) is left out."""
    encoded = {}
    for name, value in values.items():
        prop = schema.get(name)
        if prop is None:
            continue
        coerced, problem = coerce(prop, value)
        shaped = None if problem else encode(prop["type"], coerced)
        if shaped is not None:
            encoded[name] = shaped
    return encoded


class Partial(list):
    """A relation Notion cut short (`has_more`: more than 25 ids in a page object); the full
    list is read through the page property endpoint."""

    has_more = True


def plain(prop: dict) -> Any:
    """A page's property value (read format) as plain Python: text, a number, a bool, or a
    list of those; None for empty or unknown values. Never Notion's raw structures, whatever
    type a person gave the property."""
    if not isinstance(prop, dict):
        return None
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    reader = _READERS.get(kind or "")
    if reader is None:
        return value if isinstance(value, str | int | float | bool) else None
    shown = reader(value)
    if kind == "relation" and prop.get("has_more") and isinstance(shown, list):
        return Partial(shown)
    return shown


def _text(value: Any) -> str:
    return "".join(
        item.get("plain_text") or (item.get("text") or {}).get("content", "")
        for item in value or []
        if isinstance(item, dict)
    )


def _name(value: Any) -> str | None:
    return value.get("name") if isinstance(value, dict) else None


def _date(value: Any) -> str | None:
    """`start`, or `start → end`, with the time zone when Notion gives one."""
    if not isinstance(value, dict) or not value.get("start"):
        return None
    shown = str(value["start"])
    if value.get("end"):
        shown += f" → {value['end']}"
    if value.get("time_zone"):
        shown += f" ({value['time_zone']})"
    return shown


def _user(value: Any) -> str | None:
    """A person or bot: the name Notion shows, else the id (a partial user)."""
    if not isinstance(value, dict):
        return None
    return value.get("name") or value.get("id")


def _users(value: Any) -> list[str]:
    return [u for u in map(_user, value or []) if u]


def _file(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    hosted = value.get(kind) if isinstance(value.get(kind), dict) else {}
    return hosted.get("url") or value.get("name")


def _typed(value: Any) -> Any:
    """A formula's or rollup's result: {"type": "number", "number": 3} and the like."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind == "date":
        return _date(value.get("date"))
    if kind == "array":
        items = [plain(item) for item in value.get("array") or []]
        return [i for i in items if i not in (None, "", [])]
    result = value.get(kind)
    return result if isinstance(result, str | int | float | bool) else None


def _unique_id(value: Any) -> str | int | None:
    if not isinstance(value, dict) or value.get("number") is None:
        return None
    prefix = value.get("prefix")
    return f"{prefix}-{value['number']}" if prefix else value["number"]


def _place(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return value.get("name") or value.get("address")


_READERS: dict[str, Any] = {
    "title": _text,
    "rich_text": _text,
    "select": _name,
    "status": _name,
    "multi_select": lambda v: [n for n in map(_name, v or []) if n],
    "date": _date,
    "people": _users,
    "created_by": _user,
    "last_edited_by": _user,
    "files": lambda v: [f for f in map(_file, v or []) if f],
    "relation": lambda v: [r["id"] for r in v or [] if isinstance(r, dict) and r.get("id")],
    "formula": _typed,
    "rollup": _typed,
    "unique_id": _unique_id,
    "verification": lambda v: v.get("state") if isinstance(v, dict) else None,
    "place": _place,
    "button": lambda v: None,
}
