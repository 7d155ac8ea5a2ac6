"""`svp register`: check a Notion database and record it as a Link or Content Database."""

from __future__ import annotations

import logging
from typing import Any

from svp.errors import PermanentError
from svp.notion.gateway import NotionGateway, NotionRequestError
from svp.notion.leftout import left_out
from svp.notion.linkschema import check_link_schema, fix_properties, status_options_fix
from svp.notion.registry import LOCAL_USER, Registry
from svp.runtime.context import Runtime
from svp.summary.targets import NEEDS_REVIEW, review_mark

SOURCE_PROPERTY = "source"
log = logging.getLogger("svp.register")


class RegistrationError(PermanentError):
    """The database cannot be registered as it is; the reason lists what to change."""


def _require(notion: NotionGateway | None) -> NotionGateway:
    """The Notion client acting for the person registering (NOTION_TOKEN's integration for the
    `svp register` commands, their OAuth token through the api)."""
    if notion is None:
        raise RegistrationError("NOTION_TOKEN is not set: registration needs a Notion integration")
    return notion


def _check_writable(notion: NotionGateway, data_source_id: str, title: str) -> None:
    """An empty schema update is refused when the integration may read but not edit."""
    try:
        notion.update_schema(data_source_id, {})
    except NotionRequestError as exc:
        raise RegistrationError(
            f"the integration can read {title!r} but not edit it: give it edit access "
            f"(••• → Connections) and the 'Update content' capability ({exc.code})"
        ) from exc


def register_link_database(
    runtime: Runtime,
    ref: str,
    *,
    notion: NotionGateway | None,
    fix: bool = False,
    user: str = LOCAL_USER,
) -> tuple[dict, list]:
    """Returns (registration, warnings); raises RegistrationError with what is wrong.
    `user`: whose registrations it joins; `notion`: their client, which checks the database."""
    notion = _require(notion)
    found = notion.resolve(ref)
    schema = notion.schema(found["data_source_id"], refresh=True)
    if fix and (additions := fix_properties(schema)):
        schema = notion.update_schema(found["data_source_id"], additions)
    if fix and (options := status_options_fix(schema)):
        try:
            schema = notion.update_schema(found["data_source_id"], options)
        except NotionRequestError as exc:  # an API version or plan that still refuses
            log.warning("Notion refused adding status options: %s", exc.reason)
    report = check_link_schema(schema)
    if report.blocking:
        hint = " (run again with --fix to add missing properties)" if report.missing else ""
        raise RegistrationError(
            f"{found['title'] or 'this database'} cannot be a Link Database: "
            + "; ".join(report.messages()[: len(report.blocking)])
            + hint
        )
    _check_writable(notion, found["data_source_id"], found["title"])
    saved = Registry(runtime, user).save({"kind": "link", **found})
    return saved, report.messages()


def register_content_database(
    runtime: Runtime,
    ref: str,
    tag: str,
    *,
    prompt: str = "",
    many: bool = False,
    language: str = "",
    fix: bool = False,
    user: str = LOCAL_USER,
    notion: NotionGateway | None,
) -> tuple[dict, list]:
    notion = _require(notion)
    tag = tag.strip().lower()
    if not tag or "," in tag:
        raise RegistrationError(f"invalid tag {tag!r}: a tag is one word or phrase, no commas")
    found = notion.resolve(ref)
    schema = notion.schema(found["data_source_id"], refresh=True)
    warnings: list[str] = []
    if not any(p["type"] == "url" for p in schema.values()):
        if fix:
            schema = notion.update_schema(found["data_source_id"], {SOURCE_PROPERTY: {"url": {}}})
        else:
            warnings.append(
                "no url property for the video's link: add one (or use --fix to add "
                f"'{SOURCE_PROPERTY}'); it also lets a retried write find its page"
            )
    if review_mark(schema) is None:
        if fix:
            schema = notion.update_schema(found["data_source_id"], {NEEDS_REVIEW: {"checkbox": {}}})
        else:
            warnings.append(
                f"no property marks the pages that need review: add a checkbox '{NEEDS_REVIEW}' "
                "(or use --fix) to filter them"
            )
    warnings += [f"not filled by the summary: {line}" for line in left_out(schema)]
    _check_writable(notion, found["data_source_id"], found["title"])
    registration: dict[str, Any] = {
        "kind": "content",
        "tag": tag,
        **found,
        "prompt": prompt,
        "many": many,
        "language": language,
        "properties": sorted(schema),
    }
    return Registry(runtime, user).save(registration), warnings
