"""Filters and sorts of ``POST /v1/data_sources/{id}/query`` for :mod:`tests.fakes.notion`.

Filters are compiled (and validated, so a bad filter fails even on an empty data source)
into predicates over page objects in read format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._notion_schema import NotionError, plain, validation_error

Page = dict[str, Any]
Predicate = Callable[[Page], bool]
Schema = dict[str, dict[str, Any]]

TEXT_TYPES = {"title", "rich_text", "url", "email", "phone_number"}
SINGLE_OPTION_TYPES = {"select", "status"}
LIST_TYPES = {"multi_select", "relation", "people", "files"}


def find_property(schema: Schema, name_or_id: Any) -> dict[str, Any]:
    if name_or_id in schema:
        return schema[name_or_id]
    for prop in schema.values():
        if prop["id"] == name_or_id:
            return prop
    raise validation_error(f"Could not find property with name or id: {name_or_id}")


def compile_filter(schema: Schema, flt: Any) -> Predicate:
    """Predicate for a Notion filter object; raises a 400 for what Notion rejects."""
    if flt is None:
        return lambda page: True
    if not isinstance(flt, dict):
        raise validation_error("body.filter should be an object.")
    for compound in ("and", "or"):
        if compound in flt:
            parts = [compile_filter(schema, f) for f in _as_list(flt[compound], compound)]
            combine = all if compound == "and" else any
            return lambda page: combine(p(page) for p in parts)
    if "timestamp" in flt:
        return _timestamp_filter(flt)
    prop = find_property(schema, flt.get("property"))
    keys = [k for k in flt if k not in ("property", "type")]
    if len(keys) != 1:
        raise validation_error("body.filter should have exactly one filter condition.")
    if keys[0] != prop["type"]:
        raise validation_error(f"database property {prop['type']} does not match filter {keys[0]}")
    return _property_filter(prop, flt[keys[0]])


def _as_list(value: Any, compound: str) -> list[Any]:
    if not isinstance(value, list):
        raise validation_error(f"body.filter.{compound} should be an array.")
    return value


def _property_filter(prop: dict[str, Any], condition: Any) -> Predicate:
    if not isinstance(condition, dict) or len(condition) != 1:
        raise validation_error(f"Filter for {prop['name']} should have exactly one operator.")
    ((operator, operand),) = condition.items()
    name, ptype = prop["name"], prop["type"]

    def value_of(page: Page) -> Any:
        return plain(page, name) if name in page["properties"] else None

    if operator in ("is_empty", "is_not_empty"):
        if operand is not True:
            raise validation_error(f"{operator} should be `true`.")
        want_empty = operator == "is_empty"
        return lambda page: (value_of(page) in (None, "", [])) == want_empty
    test = _comparison(ptype, operator, operand, name)
    return lambda page: test(value_of(page))


def _comparison(ptype: str, operator: str, operand: Any, name: str) -> Callable[[Any], bool]:
    if ptype in TEXT_TYPES | SINGLE_OPTION_TYPES:
        _require(isinstance(operand, str), name, operator, "a string")
        text_tests: dict[str, Callable[[Any], bool]] = {
            "equals": lambda v: (v or "") == operand,
            "does_not_equal": lambda v: (v or "") != operand,
        }
        if ptype in TEXT_TYPES:
            text_tests |= {
                "contains": lambda v: operand in (v or ""),
                "does_not_contain": lambda v: operand not in (v or ""),
                "starts_with": lambda v: (v or "").startswith(operand),
                "ends_with": lambda v: (v or "").endswith(operand),
            }
        return _pick(text_tests, operator, name)
    if ptype == "checkbox":
        _require(isinstance(operand, bool), name, operator, "a boolean")
        return _pick(
            {"equals": lambda v: v is operand, "does_not_equal": lambda v: v is not operand},
            operator,
            name,
        )
    if ptype == "number":
        _require(isinstance(operand, int | float), name, operator, "a number")
        return _pick(_ordering_tests(operand, prefix=""), operator, name)
    if ptype == "date":
        _require(isinstance(operand, str), name, operator, "an ISO 8601 date")
        return _pick(_ordering_tests(operand, prefix="date"), operator, name)
    if ptype in LIST_TYPES:
        return _pick(
            {
                "contains": lambda v: operand in (v or []),
                "does_not_contain": lambda v: operand not in (v or []),
            },
            operator,
            name,
        )
    raise NotionError(400, "validation_error", f"FakeNotion cannot filter on {ptype} properties.")


def _ordering_tests(operand: Any, prefix: str) -> dict[str, Callable[[Any], bool]]:
    def key(value: Any) -> Any:
        # dates: compare only as much of the stored value as the operand gives
        return value[: len(operand)] if prefix and isinstance(value, str) else value

    tests: dict[str, Callable[[Any], bool]] = {
        "equals": lambda v: v is not None and key(v) == operand,
        "does_not_equal": lambda v: v is None or key(v) != operand,
    }
    ordering: dict[str, Callable[[Any], bool]] = {
        "greater_than": lambda v: key(v) > operand,
        "less_than": lambda v: key(v) < operand,
        "greater_than_or_equal_to": lambda v: key(v) >= operand,
        "less_than_or_equal_to": lambda v: key(v) <= operand,
        "after": lambda v: key(v) > operand,
        "before": lambda v: key(v) < operand,
        "on_or_after": lambda v: key(v) >= operand,
        "on_or_before": lambda v: key(v) <= operand,
    }
    for op, test in ordering.items():
        tests[op] = lambda v, test=test: v is not None and test(v)
    return tests


def _require(ok: bool, name: str, operator: str, what: str) -> None:
    if not ok:
        raise validation_error(f"Filter {operator} on {name} should be {what}.")


def _pick(tests: dict[str, Callable[[Any], bool]], operator: str, name: str) -> Any:
    if operator not in tests:
        raise validation_error(f"Filter operator {operator} is not valid for {name}.")
    return tests[operator]


def _timestamp_filter(flt: dict[str, Any]) -> Predicate:
    field = flt["timestamp"]
    if field not in ("created_time", "last_edited_time") or not isinstance(flt.get(field), dict):
        raise validation_error("body.filter.timestamp should be created_time or last_edited_time.")
    ((operator, operand),) = flt[field].items()
    test = _pick(_ordering_tests(operand, prefix="date"), operator, field)
    return lambda page: test(page[field])


def sort_pages(schema: Schema, pages: list[Page], sorts: Any) -> list[Page]:
    """Apply Notion ``sorts`` (property or timestamp, ascending/descending)."""
    if not sorts:
        return pages
    if not isinstance(sorts, list):
        raise validation_error("body.sorts should be an array.")
    ordered = list(pages)
    for sort in reversed(sorts):
        descending = sort.get("direction", "ascending") == "descending"
        if "timestamp" in sort:
            field = sort["timestamp"]
            ordered.sort(key=lambda page, f=field: page[f], reverse=descending)
            continue
        prop = find_property(schema, sort.get("property"))
        ordered.sort(key=lambda page, n=prop["name"]: _sort_key(plain(page, n)), reverse=descending)
    return ordered


def _sort_key(value: Any) -> tuple[int, Any]:
    if value in (None, "", []):
        return (1, "")  # empty values last
    if isinstance(value, list):
        return (0, ",".join(map(str, value)))
    return (0, value)
