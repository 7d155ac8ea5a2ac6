"""Which Content Database a job writes to, and that database's schema."""

from __future__ import annotations

from typing import Any

from svp.accounts import notion_for
from svp.config import LOCAL_USER
from svp.errors import PermanentError
from svp.notion.registry import Registry
from svp.runtime.context import Runtime
from svp.summary.targets import Schema, bundled_schemas, normalize_schema


def target_for_tag(
    runtime: Runtime, tag: str, schema_override: Any = None, user: str | None = None
) -> dict[str, Any]:
    """The job's `target`: a Notion data source (of `user`'s registrations, when given), or
    an inline schema for local output."""
    tag = tag.strip().lower()
    if schema_override is not None:
        return {"tag": tag, "schema": normalize_schema(schema_override)}
    notion = notion_for(runtime, user)
    if notion is not None:
        registry = Registry(runtime, user or LOCAL_USER)
        found = registry.content(tag)
        if found is None:
            raise PermanentError(
                f"no Content Database is registered for tag {tag!r}; registered tags: "
                f"{', '.join(registry.tags()) or 'none'}"
            )
        source = found.get("data_source_id") or notion.data_source_id(found["database"])
        options = {k: found[k] for k in ("prompt", "many", "language") if found.get(k)}
        if user and user != LOCAL_USER:
            options["user"] = user
        return {"tag": tag, "data_source_id": source, **options}
    bundled = bundled_schemas()
    if tag in bundled:
        return {"tag": tag, "schema": normalize_schema(bundled[tag])}
    raise PermanentError(
        f"no Content Database is registered for tag {tag!r}; registered tags: "
        f"{', '.join(sorted(bundled))} (bundled examples; or pass --schema)"
    )


def schema_of(runtime: Runtime, target: dict[str, Any]) -> Schema:
    if "schema" in target:
        return target["schema"]
    notion = notion_for(runtime, target.get("user"))
    if notion is None:
        raise PermanentError("this job writes to Notion but NOTION_TOKEN is not set")
    return notion.schema(target["data_source_id"])
