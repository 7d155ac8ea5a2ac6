"""Plain Python values <-> Notion property values, within Notion's limits.

Encoding never produces a value Notion would reject with a 400: text is split into objects of
at most 2000 characters, option names lose their commas, over-long URLs are dropped.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

TEXT_LIMIT = 2000
RICH_TEXT_ITEMS = 100
MULTI_SELECT_LIMIT = 100
RELATION_LIMIT = 100  # ids in one relation or people value
URL_LIMIT = 2000
SHORT_LIMIT = 200  # email and phone_number


def rich_text(text: str) -> list[dict]:
    """Split text into at most 100 text objects of at most 2000 characters, at word breaks."""
    chunks: list[str] = []
    rest = str(text)
    while rest and len(chunks) < RICH_TEXT_ITEMS:
        if len(rest) <= TEXT_LIMIT:
            chunks.append(rest)
            break
        cut = rest.rfind(" ", 0, TEXT_LIMIT) + 1 or TEXT_LIMIT
        chunks.append(rest[:cut])
        rest = rest[cut:]
    return [{"type": "text", "text": {"content": chunk}} for chunk in chunks]


def option_name(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value).replace(",", " ")).strip()[:100]


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    match = re.search(r"-?\d+(?:[.,]\d+)?", str(value))
    if not match:
        return None
    number = float(match.group().replace(",", "."))
    return int(number) if number.is_integer() else number


def _date(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return (
            datetime.fromisoformat(text).isoformat()
            if "T" in text
            else date.fromisoformat(text[:10]).isoformat()
        )
    except ValueError:
        return None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return list(value)
    return [part for part in re.split(r"[,\n]", str(value)) if part.strip()]


def _checkbox(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"yes", "true", "y", "1", "x", "✓"}:
        return True
    if text in {"no", "false", "n", "0", ""}:
        return False
    return None


def encode(prop_type: str, value: Any) -> dict | None:
    """The write shape of `value` for a property of `prop_type`, or None to leave it empty."""
    if value is None or value == "" or value == []:
        return None
    if prop_type in ("title", "rich_text"):
        if isinstance(value, list):
            value = "\n".join(str(item) for item in value)
        return {prop_type: rich_text(str(value))}
    if prop_type == "number":
        number = _number(value)
        return None if number is None else {"number": number}
    if prop_type in ("select", "status"):
        name = option_name(value[0] if isinstance(value, list) else value)
        return {prop_type: {"name": name}} if name else None
    if prop_type == "multi_select":
        names = list(dict.fromkeys(filter(None, map(option_name, _as_list(value)))))
        options = [{"name": n} for n in names[:MULTI_SELECT_LIMIT]]
        return {"multi_select": options} if options else None
    if prop_type == "url":
        url = str(value).strip()
        return {"url": url} if url and len(url) <= URL_LIMIT else None
    if prop_type in ("email", "phone_number"):
        text = str(value).strip()
        return {prop_type: text} if text and len(text) <= SHORT_LIMIT else None
    if prop_type == "checkbox":
        checked = _checkbox(value)
        return None if checked is None else {"checkbox": checked}
    if prop_type == "date":
        start = _date(value)
        return {"date": {"start": start}} if start else None
    if prop_type == "files":
        urls = [
            u for u in map(str, _as_list(value)) if u.startswith("http") and len(u) <= URL_LIMIT
        ]
        files = [{"type": "external", "name": u[-100:], "external": {"url": u}} for u in urls]
        return {"files": files} if files else None
    if prop_type in ("relation", "people"):
        # Page or user ids (the writer turns a relation's titles into page ids).
        ids = [item.get("id") if isinstance(item, dict) else item for item in _as_list(value)]
        refs = [{"id": str(i)} for i in dict.fromkeys(filter(None, ids))][:RELATION_LIMIT]
        return {prop_type: refs} if refs else None
    return None  # formula, rollup...: not written


def encode_properties(schema: dict[str, dict], values: dict[str, Any]) -> dict[str, dict]:
    """Encode the values whose names are in the schema; unknown names are left out, and so is
    a status value that is not one of the property's options (the API cannot create one)."""
    encoded = {}
    for name, value in values.items():
        prop = schema.get(name)
        if prop is None:
            continue
        shaped = encode(prop["type"], value)
        if shaped is not None and prop["type"] == "status":
            options = {o["name"] for o in prop.get("status", {}).get("options", [])}
            if shaped["status"]["name"] not in options:
                continue
        if shaped is not None:
            encoded[name] = shaped
    return encoded


def plain(prop: dict) -> Any:
    """A page's property value (read format) as plain Python."""
    kind = prop.get("type")
    value = prop.get(kind)
    if kind in ("title", "rich_text"):
        return "".join(
            item.get("plain_text") or item.get("text", {}).get("content", "")
            for item in value or []
        )
    if kind in ("select", "status"):
        return value.get("name") if value else None
    if kind == "multi_select":
        return [item["name"] for item in value or []]
    if kind == "date":
        return value.get("start") if value else None
    return value
