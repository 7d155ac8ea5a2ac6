"""Which Content Database a job writes to, and that database's schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from svp.errors import PermanentError
from svp.runtime.context import Runtime

Schema = dict[str, dict[str, Any]]


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


def target_for_tag(runtime: Runtime, tag: str, schema_override: Any = None) -> dict[str, Any]:
    """The job's `target`: a Notion data source, or an inline schema for local output."""
    tag = tag.strip().lower()
    if schema_override is not None:
        return {"tag": tag, "schema": normalize_schema(schema_override)}
    databases = runtime.settings.content_databases
    if runtime.notion is not None and tag in databases:
        return {"tag": tag, "data_source_id": runtime.notion.data_source_id(databases[tag])}
    bundled = bundled_schemas()
    if runtime.notion is None and tag in bundled:
        return {"tag": tag, "schema": normalize_schema(bundled[tag])}
    known = sorted(databases) if runtime.notion is not None else sorted(bundled)
    raise PermanentError(
        f"no Content Database is registered for tag {tag!r}; registered tags: "
        f"{', '.join(known) or 'none'}"
    )


def schema_of(runtime: Runtime, target: dict[str, Any]) -> Schema:
    if "schema" in target:
        return target["schema"]
    if runtime.notion is None:
        raise PermanentError("this job writes to Notion but NOTION_TOKEN is not set")
    return runtime.notion.schema(target["data_source_id"])
