"""Content Database schemas: the bundled examples, their normalized form, and the properties
with a role (the video's link, the title, the review mark)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from svp.errors import PermanentError

Schema = dict[str, dict[str, Any]]

# A url property with such a name holds the video's link (video_link, source, ...).
SOURCE_URL_NAME = re.compile(r"video|source|link|original|post|url", re.I)
# A checkbox or select with such a name, or a status option so named, marks a page to review.
REVIEW_NAME = re.compile(r"\breview", re.I)
NEEDS_REVIEW = "Needs review"


def source_property(schema: Schema) -> str | None:
    """The url property that holds the video's link, if any."""
    return next(
        (n for n, p in schema.items() if p["type"] == "url" and SOURCE_URL_NAME.search(n)), None
    )


def title_property(schema: Schema) -> str | None:
    return next((n for n, p in schema.items() if p["type"] == "title"), None)


@dataclass(frozen=True)
class ReviewMark:
    """Where a page says it needs review: a checkbox, or an option of a select or status."""

    name: str
    kind: str  # checkbox | select | status
    option: str = ""  # the select or status option that means "needs review"

    def value(self, needed: bool) -> Any:
        """The plain value to write (None: leave the property as it is)."""
        if self.kind == "checkbox":
            return needed
        return self.option if needed else None


def review_mark(schema: Schema) -> ReviewMark | None:
    """The Content Database's review property: a checkbox or select named like "needs
    review", else a status property with an option so named."""
    for name, prop in schema.items():
        if prop["type"] in ("checkbox", "select") and REVIEW_NAME.search(name):
            options = [o["name"] for o in (prop.get("select") or {}).get("options", [])]
            option = next((o for o in options if REVIEW_NAME.search(o)), NEEDS_REVIEW)
            return ReviewMark(name, prop["type"], option if prop["type"] == "select" else "")
    for name, prop in schema.items():
        if prop["type"] == "status":
            options = [o["name"] for o in (prop.get("status") or {}).get("options", [])]
            if option := next((o for o in options if REVIEW_NAME.search(o)), None):
                return ReviewMark(name, "status", option)
    return None


def bundled_schemas() -> dict[str, Schema]:
    """The seed's example Content Database schemas (cooking, places), by tag."""
    folder = resources.files("svp") / "schemas"
    return {
        item.name.removesuffix(".json"): json.loads(item.read_text())
        for item in folder.iterdir()
        if item.name.endswith(".json")
    }


def normalize_schema(schema: Any) -> Schema:
    """Accept the seed's format ({name: {"type": t}}) or Notion's property objects."""
    if not isinstance(schema, dict) or not schema:
        raise PermanentError('a schema must be a JSON object of property name -> {"type": ...}')
    normalized: Schema = {}
    for name, prop in schema.items():
        if not isinstance(prop, dict) or not isinstance(prop.get("type"), str):
            raise PermanentError(f'schema property {name!r} needs a "type"')
        normalized[name] = {"name": name, **prop}
    if not any(p["type"] == "title" for p in normalized.values()):
        raise PermanentError("the schema has no title property")
    return normalized
