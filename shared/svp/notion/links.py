"""The Link Database: where people add links (url, tag, status) and watch them move."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from svp.errors import PermanentError
from svp.notion.gateway import NotionGateway
from svp.notion.properties import encode, plain

log = logging.getLogger("svp.notion")

PENDING = "pending"
DONE = "done"
DONE_NEEDS_REVIEW = "done (needs review)"
IN_PROGRESS = ("queued", "downloading", "transcribing", "reading text", "summarizing", "writing")
ERROR_NAMES = ("error", "error_message", "reason")
RESULT_NAMES = ("result", "page", "result_page")


def find_property(schema: dict[str, dict], *names: str, types: tuple[str, ...] = ()) -> str | None:
    """The schema's name for the first of `names` (case-insensitive) with an accepted type."""
    by_lower = {name.lower(): name for name in schema}
    for wanted in names:
        actual = by_lower.get(wanted.lower())
        if actual and (not types or schema[actual]["type"] in types):
            return actual
    return None


@dataclass(frozen=True)
class LinkEntry:
    page_id: str
    data_source_id: str
    url: str
    tag: str
    processing_type: str
    saved_by: str = ""  # the Notion user who added the row (a people property gets them)


def pending_filter(schema: dict[str, dict]) -> dict:
    name = _status_property(schema)
    return {"property": name, schema[name]["type"]: {"equals": PENDING}}


def shows_pending(page: dict) -> bool:
    """Whether the row, as read from Notion, shows `pending`."""
    props = page.get("properties") or {}
    name = find_property(props, "status")
    return name is not None and plain(props[name]) == PENDING


def in_progress_filter(schema: dict[str, dict]) -> dict | None:
    """Rows showing a status the pipeline writes while a link moves (queued ... writing);
    None when the status property has none of those options yet."""
    name = _status_property(schema)
    kind = schema[name]["type"]
    options = {o["name"] for o in schema[name].get(kind, {}).get("options", [])}
    shown = [value for value in IN_PROGRESS if value in options]
    if not shown:
        return None
    return {"or": [{"property": name, kind: {"equals": value}} for value in shown]}


def _status_property(schema: dict[str, dict]) -> str:
    name = find_property(schema, "status", types=("select", "status"))
    if name is None:
        raise PermanentError("the Link Database has no 'status' property of type select or status")
    return name


class LinkRowError(PermanentError):
    """A row whose property has a type the pipeline cannot read a link from; the reason says
    which and what to change. The row alone fails: the rest of the database goes on."""


# What each property of a row may be: the registered type, and types a person may have
# changed it to that still hold one unambiguous text (a multi_select only with one option).
_READABLE = {
    "url": ("url", "rich_text", "title"),
    "tag": ("select", "status", "rich_text", "multi_select"),
    "processing_type": ("select", "status", "rich_text", "multi_select"),
}


def read_entry(page: dict, data_source_id: str) -> LinkEntry | None:
    """The link a row holds; None for what a query returns that is not a row (a wiki
    database lists its data sources among its pages). Raises LinkRowError for a value of a
    type no link can be read from."""
    if page.get("object", "page") != "page":
        return None
    props = page.get("properties") or {}

    def value(key: str, *names: str) -> str:
        name = find_property(props, key, *names)
        if name is None:
            return ""
        prop = props[name] if isinstance(props[name], dict) else {}
        kind = prop.get("type")
        read = plain(prop)
        if kind == "multi_select" and isinstance(read, list) and len(read) <= 1:
            read = read[0] if read else ""
        if kind not in _READABLE[key] or not isinstance(read, str | None):
            expected = " or ".join(t for t in _READABLE[key] if t != "multi_select")
            raise LinkRowError(
                f"the '{name}' property is {kind}"
                + (f" with {len(read)} values" if isinstance(read, list) else "")
                + f", expected {expected}: change its type back in Notion"
                + (" or keep one value" if isinstance(read, list) else "")
            )
        return (read or "").strip()

    return LinkEntry(
        page_id=page["id"],
        data_source_id=data_source_id,
        url=value("url", "link"),
        tag=value("tag").lower(),
        processing_type=value("processing_type").lower(),
        saved_by=str((page.get("created_by") or {}).get("id") or ""),
    )


def update_link(
    notion: NotionGateway, link: dict, status: str, *, error: str | None = None, page_url: str = ""
) -> None:
    """Show `status` (with the error, or the result page) on the link's row."""
    schema = notion.schema(link["data_source_id"])
    values: dict[str, dict] = {}
    if name := find_property(schema, "status", types=("select", "status")):
        prop = schema[name]
        options = {o["name"] for o in prop.get(prop["type"], {}).get("options", [])}
        if prop["type"] == "status" and status not in options and status.startswith(DONE):
            status = DONE  # "done (needs review)": the error property says why
        if prop["type"] == "select" or status in options:
            values[name] = encode(prop["type"], status)
        else:  # a page write cannot create a status option (registration's --fix can)
            log.warning(
                "the Link Database's status has no option %r: run `svp register link-db"
                " --fix` or add it in Notion",
                status,
            )
    if name := find_property(schema, *ERROR_NAMES, types=("rich_text",)):
        values[name] = encode("rich_text", error) or {"rich_text": []}
    if page_url and (name := find_property(schema, *RESULT_NAMES, types=("url",))):
        values[name] = {"url": page_url}
    if name := find_property(schema, "updated_time", types=("date",)):
        values[name] = {"date": {"start": datetime.now(UTC).isoformat(timespec="seconds")}}
    if values:
        notion.update_page(link["page_id"], values)
