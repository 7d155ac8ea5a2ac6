"""What a Link Database must have, what is missing, and what `--fix` can add."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from svp.notion.links import ERROR_NAMES, RESULT_NAMES, find_property

# The status values the pipeline writes, in order.
STATUS_VALUES = (
    "pending",
    "queued",
    "downloading",
    "transcribing",
    "reading text",
    "summarizing",
    "writing",
    "done",
    "done (needs review)",
    "failed",
)
REPROCESS = "reprocess"

# property -> (accepted types, type --fix creates)
REQUIRED: dict[str, tuple[tuple[str, ...], str]] = {
    "url": (("url",), "url"),
    "tag": (("select",), "select"),
    "status": (("select", "status"), "select"),
}
OPTIONAL: dict[str, tuple[tuple[str, ...], str]] = {
    "processing_type": (("select",), "select"),
    "updated_time": (("date",), "date"),
    ERROR_NAMES[0]: (("rich_text",), "rich_text"),
    RESULT_NAMES[0]: (("url",), "url"),
}
_ALIASES = {ERROR_NAMES[0]: ERROR_NAMES, RESULT_NAMES[0]: RESULT_NAMES}


@dataclass
class LinkSchemaReport:
    missing: list[str] = field(default_factory=list)  # required, absent
    wrong_type: list[str] = field(default_factory=list)  # present with another type
    missing_optional: list[str] = field(default_factory=list)
    wrong_type_optional: list[str] = field(default_factory=list)  # present, not used
    missing_status_options: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[str]:
        return self.missing + self.wrong_type

    def messages(self) -> list[str]:
        lines = [f"missing property {m}" for m in self.missing]
        lines += [f"property {w}" for w in self.wrong_type]
        lines += [
            f"optional property {m} is missing (added by --fix)" for m in self.missing_optional
        ]
        lines += [f"optional property {w}" for w in self.wrong_type_optional]
        if self.missing_status_options:
            lines.append(
                "the status property (type status) lacks the options "
                f"{', '.join(self.missing_status_options)}: --fix adds them (to the To-do"
                " group), or add them in Notion"
            )
        return lines


def _describe(types: tuple[str, ...]) -> str:
    return " or ".join(types)


def check_link_schema(schema: dict[str, dict[str, Any]]) -> LinkSchemaReport:
    report = LinkSchemaReport()
    for name, (types, _) in REQUIRED.items():
        actual = find_property(schema, name)
        if actual is None:
            report.missing.append(f"'{name}' ({_describe(types)})")
        elif schema[actual]["type"] not in types:
            report.wrong_type.append(
                f"'{actual}' is {schema[actual]['type']}, expected {_describe(types)}:"
                f" change its type to {types[0]} in Notion (--fix never changes a column"
                " a person made)"
            )
    for name, (types, _) in OPTIONAL.items():
        aliases = _ALIASES.get(name, (name,))
        if find_property(schema, *aliases, types=types) is not None:
            continue
        if (actual := find_property(schema, *aliases)) is not None:
            report.wrong_type_optional.append(
                f"'{actual}' is {schema[actual]['type']}, expected {_describe(types)}: it is"
                f" not used; change its type to {types[0]} in Notion, or rename it and run"
                " --fix to add a new one"
            )
        else:
            report.missing_optional.append(f"'{name}' ({_describe(types)})")
    status = find_property(schema, "status", types=("status",))
    if status:
        options = {o["name"] for o in schema[status]["status"].get("options", [])}
        report.missing_status_options = [v for v in STATUS_VALUES if v not in options]
    return report


def status_options_fix(schema: dict[str, dict[str, Any]]) -> dict[str, dict]:
    """The data source update that adds the status values a status-typed `status` lacks.
    Notion's API adds status options to the To-do group (notion-sdk-js,
    StatusPropertyConfigUpdateRequest); existing options are sent back unchanged, by id."""
    name = find_property(schema, "status", types=("status",))
    if name is None:
        return {}
    current = schema[name]["status"].get("options", [])
    have = {o["name"] for o in current}
    missing = [{"name": v} for v in STATUS_VALUES if v not in have]
    if not missing:
        return {}
    kept = [{"id": o["id"], "name": o["name"]} for o in current if o.get("id")]
    return {name: {"status": {"options": kept + missing}}}


def fix_properties(schema: dict[str, dict[str, Any]]) -> dict[str, dict]:
    """The data source update that adds every missing property (never changes existing ones)."""
    additions: dict[str, dict] = {}
    for name, (_, create) in {**REQUIRED, **OPTIONAL}.items():
        if find_property(schema, *_ALIASES.get(name, (name,))) is not None:
            continue
        config: dict[str, Any] = {}
        if name == "status":
            config = {"options": [{"name": value} for value in STATUS_VALUES]}
        elif name == "processing_type":
            config = {"options": [{"name": REPROCESS}]}
        elif create == "select":
            config = {"options": []}
        additions[name] = {create: config}
    return additions
