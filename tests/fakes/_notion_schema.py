"""Notion data shapes for :mod:`tests.fakes.notion`: ids, rich text, property schemas and
property values (write format in, read format out), with the API's validation rules.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

# https://developers.notion.com/reference/request-limits#limits-for-property-values
# "text.content: 2000 characters"; Notion counts UTF-16 code units (JavaScript's length), so
# an emoji outside the Basic Multilingual Plane counts 2.
MAX_TEXT_CONTENT = 2000
MAX_RICH_TEXT_ITEMS = 100  # items in one rich-text array
MAX_ARRAY_ITEMS = 100  # multi_select options / relations / files in one value
MAX_OPTION_NAME = 100
MAX_URL = 2000
MAX_EMAIL_OR_PHONE = 200

WRITABLE_TYPES = {
    "title",
    "rich_text",
    "number",
    "select",
    "multi_select",
    "status",
    "date",
    "checkbox",
    "url",
    "email",
    "phone_number",
    "files",
    "relation",
    "people",
}
READ_ONLY_TYPES = {
    "formula",
    "rollup",
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
    "unique_id",
    "button",
    "verification",
    "place",
}
PROPERTY_TYPES = WRITABLE_TYPES | READ_ONLY_TYPES
OPTION_TYPES = ("select", "multi_select", "status")

DEFAULT_ANNOTATIONS = {
    "bold": False,
    "italic": False,
    "strikethrough": False,
    "underline": False,
    "code": False,
    "color": "default",
}
DEFAULT_STATUS_OPTIONS = (
    ("Not started", "to_do"),
    ("In progress", "in_progress"),
    ("Done", "complete"),
)
FAKE_USER_ID = "00000000-0000-4000-8000-00000000b07a"


class NotionError(Exception):
    """An API error the fake answers with: ``{"object": "error", status, code, message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def validation_error(message: str) -> NotionError:
    return NotionError(400, "validation_error", message)


# -- ids and timestamps -------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def new_property_id(taken: set[str]) -> str:
    while True:
        candidate = secrets.token_urlsafe(3)
        if candidate not in taken and candidate != "title":
            return candidate


def normalize_id(raw: Any, where: str = "path.id") -> str:
    """Canonical dashed UUID for an id given with or without dashes (400 otherwise)."""
    text = raw.replace("-", "").lower() if isinstance(raw, str) else ""
    try:
        return str(uuid.UUID(hex=text))
    except ValueError:
        raise validation_error(f"{where} should be a valid uuid, instead was `{raw!r}`.") from None


def now_iso() -> str:
    """Notion's timestamps (created_time, last_edited_time) are rounded down to the minute."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00.000Z")


def user_ref() -> dict[str, str]:
    """A partial user, as a page's or data source's own `created_by` shows one."""
    return {"object": "user", "id": FAKE_USER_ID}


# Property values name users in full ("people", "created_by", "last_edited_by"): name,
# avatar_url, type and the person's e-mail or the bot's owner, as recorded responses show
# (https://developers.notion.com/reference/page-property-values#people,
# https://developers.notion.com/reference/user).
FAKE_BOT = {
    "object": "user",
    "id": FAKE_USER_ID,
    "name": "FakeNotion integration",
    "avatar_url": None,
    "type": "bot",
    "bot": {},
}


def person(user_id: str, name: str) -> dict[str, Any]:
    """A workspace member as property values show them."""
    email = "".join(c for c in name.lower() if c.isalnum()) or "someone"
    return {
        "object": "user",
        "id": user_id,
        "name": name,
        "avatar_url": None,
        "type": "person",
        "person": {"email": f"{email}@example.com"},
    }


def page_url(object_id: str) -> str:
    return "https://www.notion.so/" + object_id.replace("-", "")


# -- rich text ------------------------------------------------------------------------


def rich_text_in(items: Any, where: str) -> list[dict[str, Any]]:
    """Validate a rich-text array in write format and return it in read format."""
    if not isinstance(items, list):
        raise validation_error(f"{where} should be an array, instead was `{items!r}`.")
    if len(items) > MAX_RICH_TEXT_ITEMS:
        raise validation_error(
            f"{where}.length should be ≤ `{MAX_RICH_TEXT_ITEMS}`, instead was `{len(items)}`."
        )
    return [_rich_text_item(item, f"{where}[{i}]") for i, item in enumerate(items)]


def _rich_text_item(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise validation_error(f"{where} should be an object, instead was `{item!r}`.")
    kind = item.get("type") or next((k for k in ("text", "mention", "equation") if k in item), None)
    annotations = {**DEFAULT_ANNOTATIONS, **(item.get("annotations") or {})}
    if kind == "text":
        text = item.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str):
            raise validation_error(f"{where}.text.content should be a string.")
        if utf16_len(content) > MAX_TEXT_CONTENT:
            raise validation_error(
                f"{where}.text.content.length should be ≤ `{MAX_TEXT_CONTENT}`, "
                f"instead was `{utf16_len(content)}`."
            )
        link = text.get("link")
        href = link.get("url") if isinstance(link, dict) else None
        if href is not None and (not isinstance(href, str) or len(href) > MAX_URL):
            raise validation_error(f"{where}.text.link.url should be a URL of ≤ {MAX_URL} chars.")
        return {
            "type": "text",
            "text": {"content": content, "link": {"url": href} if href else None},
            "annotations": annotations,
            "plain_text": content,
            "href": href,
        }
    if kind == "equation":
        expression = (item.get("equation") or {}).get("expression", "")
        return {
            "type": "equation",
            "equation": {"expression": expression},
            "annotations": annotations,
            "plain_text": expression,
            "href": None,
        }
    if kind == "mention":
        return {
            "type": "mention",
            "mention": item.get("mention"),
            "annotations": annotations,
            "plain_text": item.get("plain_text", ""),
            "href": None,
        }
    raise validation_error(f"{where} should have one of `text`, `mention` or `equation`.")


def utf16_len(text: str) -> int:
    """The length JavaScript (and Notion's limits) give a string: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def text_chunks(text: str) -> list[dict[str, Any]]:
    """Write-format rich text for ``text``, split into objects of ≤ 2000 UTF-16 units."""
    chunks: list[str] = []
    start = units = 0
    for i, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > MAX_TEXT_CONTENT:
            chunks.append(text[start:i])
            start, units = i, 0
        units += width
    if start < len(text):
        chunks.append(text[start:])
    return [{"type": "text", "text": {"content": chunk}} for chunk in chunks]


def plain_text(items: list[dict[str, Any]]) -> str:
    return "".join(item.get("plain_text", "") for item in items)


# -- property schema --------------------------------------------------------------------


def make_option(spec: Any, where: str) -> dict[str, Any]:
    """A select/multi_select/status option from a name or a (partial) option object."""
    option = {"name": spec} if isinstance(spec, str) else dict(spec)
    check_option_name(option.get("name"), where)
    return {
        "id": option.get("id") or new_id(),
        "name": option["name"],
        "color": option.get("color", "default"),
        "description": option.get("description"),
    }


def check_option_name(name: Any, where: str) -> None:
    if not isinstance(name, str) or not name:
        raise validation_error(f"{where}.name should be a non-empty string.")
    if "," in name:
        raise validation_error(f"{where}.name should not contain commas, instead was `{name}`.")
    if len(name) > MAX_OPTION_NAME:
        raise validation_error(f"{where}.name.length should be ≤ `{MAX_OPTION_NAME}`.")


def property_type_of(spec: dict[str, Any], where: str) -> str:
    """The type of a schema spec: ``{"type": t, ...}`` or ``{t: {...}}``."""
    declared = spec.get("type")
    if isinstance(declared, str):
        ptype = declared
    else:
        keys = [k for k in spec if k in PROPERTY_TYPES]
        if len(keys) != 1:
            raise validation_error(f"{where} should name exactly one property type.")
        ptype = keys[0]
    if ptype not in PROPERTY_TYPES:
        raise validation_error(f"{where}.type `{ptype}` is not a supported property type.")
    return ptype


def build_property(name: str, spec: Any, taken_ids: set[str], where: str) -> dict[str, Any]:
    """A full property object from ``"title"``, ``{"type": "title"}`` or a full object.

    ``{"type": "select", "options": ["a", "b"]}`` is accepted as a seeding shorthand.
    """
    spec = {"type": spec} if isinstance(spec, str) else dict(spec)
    ptype = property_type_of(spec, where)
    config = dict(spec.get(ptype) or {})
    if "options" in spec:
        config["options"] = spec["options"]
    if ptype in OPTION_TYPES:
        config = _option_config(ptype, config, where)
    if ptype == "number":
        config.setdefault("format", "number")
    prop_id = spec.get("id") or ("title" if ptype == "title" else new_property_id(taken_ids))
    taken_ids.add(prop_id)
    # Every property of a data source carries `description` (null when none), as recorded
    # responses show: https://developers.notion.com/reference/property-object
    description = spec.get("description")
    return {
        "id": prop_id,
        "name": name,
        "description": description,
        "type": ptype,
        ptype: config,
    }


def _option_config(ptype: str, config: dict[str, Any], where: str) -> dict[str, Any]:
    raw = config.get("options") or []
    if ptype == "status" and not raw:
        raw = [name for name, _ in DEFAULT_STATUS_OPTIONS]
    options = [make_option(o, f"{where}.{ptype}.options[{i}]") for i, o in enumerate(raw)]
    names = [o["name"] for o in options]
    if len(set(names)) != len(names):
        raise validation_error(f"{where}.{ptype}.options has duplicate names.")
    config = {**config, "options": options}
    if ptype == "status":
        config["groups"] = _status_groups(options)
    return config


def _status_groups(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_group: dict[str, list[str]] = {"to_do": [], "in_progress": [], "complete": []}
    defaults = dict(DEFAULT_STATUS_OPTIONS)
    last = len(options) - 1
    for i, option in enumerate(options):
        fallback = "to_do" if i == 0 else "complete" if i == last else "in_progress"
        by_group[defaults.get(option["name"], fallback)].append(option["id"])
    return [
        {
            "id": new_id(),
            "name": group.replace("_", " ").title(),
            "color": "default",
            "option_ids": ids,
        }
        for group, ids in by_group.items()
    ]


# -- property values ------------------------------------------------------------------


@dataclass
class ValueContext:
    """Where a property value is being written: for messages and new options."""

    prop: dict[str, Any]
    page_id: str
    created_time: str
    last_edited_time: str
    # The users of the workspace (id -> full user object): a people value naming anyone else
    # is refused.
    people: dict[str, dict[str, Any]] = field(default_factory=lambda: {FAKE_USER_ID: FAKE_BOT})
    sequence: int = 1  # the page's number in its data source (unique_id)

    @property
    def name(self) -> str:
        return str(self.prop["name"])

    @property
    def ptype(self) -> str:
        return str(self.prop["type"])

    @property
    def where(self) -> str:
        return f"body.properties.{self.name}.{self.ptype}"

    def wrong_type(self) -> NotionError:
        return validation_error(f"{self.name} is expected to be {self.ptype}.")


def write_value(ctx: ValueContext, value_obj: Any) -> dict[str, Any]:
    """Validate a page property value in write format; return it in read format.

    New select/multi_select options are added to ``ctx.prop`` (the schema), as Notion does.
    """
    if not isinstance(value_obj, dict) or ctx.ptype not in value_obj:
        raise ctx.wrong_type()
    if value_obj.get("type", ctx.ptype) != ctx.ptype:
        raise ctx.wrong_type()
    if ctx.ptype in READ_ONLY_TYPES:
        raise validation_error(f"{ctx.name} is a {ctx.ptype} property and cannot be written.")
    writer = _WRITERS[ctx.ptype]
    return read_shape(ctx.prop, writer(ctx, value_obj[ctx.ptype]))


def read_shape(prop: dict[str, Any], value: Any) -> dict[str, Any]:
    shaped = {"id": prop["id"], "type": prop["type"], prop["type"]: value}
    if prop["type"] == "relation":
        shaped["has_more"] = False
    return shaped


def default_value(ctx: ValueContext) -> dict[str, Any]:
    """The value a new page gets for a property it was not given."""
    ptype = ctx.ptype
    value: Any = None
    if ptype in ("title", "rich_text", "multi_select", "files", "relation", "people"):
        value = []
    elif ptype == "checkbox":
        value = False
    elif ptype == "status":
        options = ctx.prop["status"]["options"]
        value = _option_ref(options[0]) if options else None
    elif ptype in ("created_time", "last_edited_time"):
        value = ctx.created_time if ptype == "created_time" else ctx.last_edited_time
    elif ptype in ("created_by", "last_edited_by"):
        value = dict(FAKE_BOT)
    elif ptype == "formula":
        value = formula_value(ctx.prop["formula"].get("expression", ""))
    elif ptype == "rollup":
        function = ctx.prop["rollup"].get("function", "show_original")
        if function in ("count", "count_values", "sum", "average", "min", "max"):
            value = {"type": "number", "number": 0, "function": function}
        else:
            value = {"type": "array", "array": [], "function": function}
    elif ptype == "unique_id":
        value = {"prefix": ctx.prop["unique_id"].get("prefix"), "number": ctx.sequence}
    elif ptype == "verification":
        value = {"state": "unverified", "verified_by": None, "date": None}
    elif ptype == "button":
        value = {}
    return read_shape(ctx.prop, value)


def formula_value(expression: str) -> dict[str, Any]:
    """A formula's result as Notion returns it, for literal expressions (the fake evaluates
    nothing else): `{"type": "number", "number": 2}`, `string`, `boolean`, or a `date`
    (https://developers.notion.com/reference/page-property-values#formula)."""
    text = str(expression or "").strip()
    if text in ("true", "false"):
        return {"type": "boolean", "boolean": text == "true"}
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return {"type": "number", "number": int(number) if number.is_integer() else number}
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return {"type": "string", "string": text[1:-1]}
    if text.startswith("parseDate("):
        return {"type": "date", "date": {"start": text[11:-2], "end": None, "time_zone": None}}
    return {"type": "string", "string": None}


def _write_rich_text(ctx: ValueContext, value: Any) -> Any:
    return rich_text_in(value, ctx.where)


def _write_number(ctx: ValueContext, value: Any) -> Any:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ctx.wrong_type()
    return value


def _write_checkbox(ctx: ValueContext, value: Any) -> Any:
    if not isinstance(value, bool):
        raise ctx.wrong_type()
    return value


def _write_string(limit: int) -> Any:
    def write(ctx: ValueContext, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ctx.wrong_type()
        if len(value) > limit:
            raise validation_error(
                f"{ctx.where}.length should be ≤ `{limit}`, instead was `{len(value)}`."
            )
        return value

    return write


def _write_select(ctx: ValueContext, value: Any) -> Any:
    if value is None:
        return None
    return _option_for(ctx, value, ctx.where, create=ctx.ptype == "select")


def _write_multi_select(ctx: ValueContext, value: Any) -> Any:
    if not isinstance(value, list):
        raise ctx.wrong_type()
    if len(value) > MAX_ARRAY_ITEMS:
        raise validation_error(
            f"{ctx.where}.length should be ≤ `{MAX_ARRAY_ITEMS}`, instead was `{len(value)}`."
        )
    return [_option_for(ctx, v, f"{ctx.where}[{i}]", create=True) for i, v in enumerate(value)]


def _option_for(ctx: ValueContext, ref: Any, where: str, create: bool) -> dict[str, Any]:
    if not isinstance(ref, dict) or not ({"name", "id"} & ref.keys()):
        raise ctx.wrong_type()
    options: list[dict[str, Any]] = ctx.prop[ctx.ptype]["options"]
    if "id" in ref and "name" not in ref:
        found = next((o for o in options if o["id"] == ref["id"]), None)
        if found is None:
            raise validation_error(f"{where}.id `{ref['id']}` is not an option of {ctx.name}.")
        return _option_ref(found)
    check_option_name(ref["name"], where)
    found = next((o for o in options if o["name"] == ref["name"]), None)
    if found is None:
        if not create:
            raise validation_error(
                f"Invalid status option. Status option `{ref['name']}` does not exist "
                f"for property {ctx.name}."
            )
        found = make_option({"name": ref["name"], "color": ref.get("color", "default")}, where)
        options.append(found)
    return _option_ref(found)


def _option_ref(option: dict[str, Any]) -> dict[str, Any]:
    return {"id": option["id"], "name": option["name"], "color": option["color"]}


def _write_date(ctx: ValueContext, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("start"), str):
        raise ctx.wrong_type()
    for key in ("start", "end"):
        if value.get(key) is not None:
            _check_iso(value[key], f"{ctx.where}.{key}")
    return {"start": value["start"], "end": value.get("end"), "time_zone": value.get("time_zone")}


def _check_iso(text: Any, where: str) -> None:
    try:
        datetime.fromisoformat(str(text))
    except ValueError:
        raise validation_error(f"{where} should be a valid ISO 8601 date string.") from None


def _write_files(ctx: ValueContext, value: Any) -> Any:
    if not isinstance(value, list) or len(value) > MAX_ARRAY_ITEMS:
        raise ctx.wrong_type()
    out = []
    for item in value:
        if isinstance(item, dict) and "_hosted" in item:  # an upload, checked by the caller
            out.append({"name": item["name"], **item["_hosted"]})
            continue
        kind = item.get("type", "external") if isinstance(item, dict) else None
        url = (item.get(kind) or {}).get("url") if kind else None
        if not isinstance(url, str):
            raise ctx.wrong_type()
        out.append({"name": item.get("name", url), "type": kind, kind: {"url": url}})
    return out


def _write_id_list(ctx: ValueContext, value: Any) -> Any:
    if not isinstance(value, list) or len(value) > MAX_ARRAY_ITEMS:
        raise ctx.wrong_type()
    ids = [normalize_id(v.get("id") if isinstance(v, dict) else None, ctx.where) for v in value]
    if ctx.ptype == "people":
        known = {normalize_id(p): user for p, user in ctx.people.items()}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise validation_error(f"{ctx.where}: no person with id {unknown[0]} in the workspace.")
        return [dict(known[i]) for i in ids]
    return [{"id": i} for i in ids]


_WRITERS: dict[str, Any] = {
    "title": _write_rich_text,
    "rich_text": _write_rich_text,
    "number": _write_number,
    "checkbox": _write_checkbox,
    "url": _write_string(MAX_URL),
    "email": _write_string(MAX_EMAIL_OR_PHONE),
    "phone_number": _write_string(MAX_EMAIL_OR_PHONE),
    "select": _write_select,
    "status": _write_select,
    "multi_select": _write_multi_select,
    "date": _write_date,
    "files": _write_files,
    "relation": _write_id_list,
    "people": _write_id_list,
}


# -- plain Python <-> Notion values -----------------------------------------------------


def to_notion_value(ptype: str, value: Any) -> dict[str, Any]:
    """Write-format property value from a plain Python value (str, list of names, ...)."""
    if isinstance(value, dict) and ptype in value:
        return value  # already in Notion's shape
    inner: Any = value
    if ptype in ("title", "rich_text"):
        inner = text_chunks(value) if isinstance(value, str) else value
    elif ptype in ("select", "status"):
        inner = {"name": value} if isinstance(value, str) else value
    elif ptype == "multi_select":
        inner = [{"name": v} if isinstance(v, str) else v for v in value]
    elif ptype == "date" and isinstance(value, date | datetime | str):
        inner = {"start": value if isinstance(value, str) else value.isoformat()}
    elif ptype == "files":
        inner = [
            {"type": "external", "name": u.rsplit("/", 1)[-1] or u, "external": {"url": u}}
            if isinstance(u, str)
            else u
            for u in value
        ]
    elif ptype in ("relation", "people"):
        inner = [{"id": v} if isinstance(v, str) else v for v in value]
    return {ptype: inner}


def plain(page: dict[str, Any], prop_name: str) -> Any:
    """A page property as plain Python: text joined, select name, multi_select names,
    date start, url string, number, checkbox, file urls, relation ids."""
    prop = page["properties"][prop_name]
    ptype = prop["type"]
    value = prop[ptype]
    if ptype in ("title", "rich_text"):
        return plain_text(value)
    if ptype in ("select", "status"):
        return value["name"] if value else None
    if ptype == "multi_select":
        return [option["name"] for option in value]
    if ptype == "date":
        return value["start"] if value else None
    if ptype == "files":
        return [f[f["type"]]["url"] for f in value]
    if ptype in ("relation", "people"):
        return [item["id"] for item in value]
    if ptype == "formula":
        return value.get(value.get("type"))
    return value
