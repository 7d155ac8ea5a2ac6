"""Writer stage: the page(s) in the tag's Content Database; the runner then marks the link done.

Exactly one page per item and video: the video's claim (svp.runtime.videos) records its pages,
so a restarted or reprocessed link updates the page it made. Before creating a page the writer
records its intent in the claim; an attempt that finds an intent with no page (a crash or a
lost answer after Notion created it) looks for that page before creating one.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from svp.accounts import notion_for
from svp.notion import body
from svp.notion.gateway import NotionGateway, NotionRequestError
from svp.notion.properties import RELATION_LIMIT, encode_properties, plain
from svp.runtime import jobs, videos
from svp.runtime.runner import LeaseLost, StageContext
from svp.stages import late_pages, local_page, pictures
from svp.stages.targets import schema_of
from svp.summary.targets import Schema, review_mark, source_property, title_property

log = logging.getLogger("svp.writer")
# Property types that point at other pages or at people.
REFERENCES = ("relation", "people")


def render(
    schema: Schema, values: dict[str, Any], source: str, titles: dict[str, list] | None = None
) -> tuple[dict, dict, str]:
    """(Notion properties, the same as plain values, title) for one item. `titles`: a
    relation's entry titles, shown in place of the page ids it is written with."""
    values = dict(values)
    if (name := source_property(schema)) and source:
        values[name] = source
    properties = encode_properties(schema, values)
    readable = {n: plain({"type": schema[n]["type"], **p}) for n, p in properties.items()}
    readable.update(titles or {})
    title = str(readable.get(title_property(schema) or "", "")) or "Untitled"
    return properties, readable, title


def pipeline_values(schema: Schema, summary: dict, link: dict) -> dict[str, Any]:
    """What the pipeline itself fills: the review mark, and people properties get the person
    who saved the link (when Notion says who)."""
    values: dict[str, Any] = {}
    mark = review_mark(schema)
    if mark and (value := mark.value(bool(summary.get("needs_review")))) is not None:
        values[mark.name] = value
    if saved_by := link.get("saved_by"):
        values.update({n: [saved_by] for n, p in schema.items() if p["type"] == "people"})
    return values


def run(ctx: StageContext) -> dict[str, Any]:
    summary_uri = ctx.output_of("summarizer")["artifacts"]["summary"]
    summary = json.loads(ctx.runtime.blobs.get_bytes(summary_uri))
    items: list[dict] = summary["items"]
    evidence: list[dict] = summary.get("evidence") or [{} for _ in items]
    evidence += [{} for _ in range(len(items) - len(evidence))]
    target = ctx.job["target"]
    schema = schema_of(ctx.runtime, target)
    source = ctx.job["link"].get("url") or ""

    extra = pipeline_values(schema, summary, ctx.job["link"])
    rendered = []
    for values in items:
        plain_values = {**_without_relations(schema, values), **extra}
        rendered.append(render(schema, plain_values, source, _relations(schema, values)))
    local = "data_source_id" not in target
    # Locally the page is named by its title and the pictures are files beside it; in Notion,
    # uploads (see _Written).
    page_path = _local_page(ctx, rendered[0][2]) if local else None
    shown = pictures.copy_beside(ctx, page_path) if page_path else []
    document = "\n---\n\n".join(
        local_page.markdown(title, readable, summary, ctx.job["link"], evidence[i], shown)
        for i, (_, readable, title) in enumerate(rendered)
    )
    all_properties = [properties for properties, _, _ in rendered]
    shown_properties = all_properties[0] if len(items) == 1 else all_properties
    properties_json = json.dumps(shown_properties, ensure_ascii=False, indent=2)
    properties_uri = ctx.save("page.json", properties_json.encode(), "application/json")
    markdown_uri = ctx.save("page.md", document.encode(), "text/markdown")

    if page_path:
        url = _write_local(ctx, page_path, properties_json, document)
        pages = [{"id": "", "url": url, "title": title} for _, _, title in rendered]
    else:
        notion = notion_for(ctx.runtime, target.get("user"))
        assert notion is not None
        written = _Written(ctx, notion, target["data_source_id"], summary, source)
        pages = [written.item(i, values, evidence[i]) for i, values in enumerate(items)]
    return {
        "page_id": pages[0]["id"],
        "page_url": pages[0]["url"],
        "title": pages[0]["title"],
        "pages": pages,
        "needs_review": bool(summary.get("needs_review")),
        "review": (summary.get("notes") or [""])[0] if summary.get("needs_review") else "",
        "artifacts": {"markdown": markdown_uri, "properties": properties_uri},
    }


def _relations(schema: Schema, values: dict) -> dict[str, list]:
    return {n: v for n, v in values.items() if schema.get(n, {}).get("type") == "relation"}


def _without_relations(schema: Schema, values: dict) -> dict:
    return {n: v for n, v in values.items() if n not in _relations(schema, values)}


class _Written:
    """The pages of one job in its Content Database."""

    def __init__(
        self,
        ctx: StageContext,
        notion: NotionGateway,
        data_source_id: str,
        summary: dict,
        source: str,
    ):
        self.ctx = ctx
        self.notion = notion
        self.data_source_id = data_source_id
        self.summary = summary
        self.source = source
        self.pictures = pictures.NotionPictures(ctx, notion)

    def item(self, index: int, values: dict, proof: dict) -> dict:
        """Item `index`'s page, updated if the video's claim has it, else created once."""
        state = self.ctx.runtime.state
        key, claim = videos.claim_of(state, self.ctx.job, now=time.time())
        known = claim.get("pages") or []
        existing = known[index] if index < len(known) and known[index].get("id") else None
        # A write Notion refuses (400 validation_error) is written again without its cause:
        # a picture Notion will not show ("Invalid image url", an expired upload) goes at
        # once; otherwise the schema is read afresh (a property renamed or deleted), then
        # the references to other pages and people go (a bot as a person), then pictures.
        plan = _Plan()
        for attempt in range(WRITE_ATTEMPTS):
            schema = self.notion.schema(self.data_source_id, refresh=plan.fresh)
            properties, title = self._properties(schema, values, plan.references)
            if plan.pictures:
                properties.update(self._picture_files(schema, properties))
            try:
                if existing and _updated(self.notion, existing["id"], properties):
                    page = {**existing, "title": title}
                else:
                    page = self._create_once(
                        key, index, schema, properties, title, proof, plan.pictures
                    )
                break
            except NotionRequestError as exc:
                if exc.code != "validation_error" or attempt == WRITE_ATTEMPTS - 1:
                    raise
                if not plan.next(exc.reason):
                    raise
                log.warning("Notion refused the page (%s): writing it again", exc.reason)
        page["needs_review"] = bool(self.summary.get("needs_review"))
        recorded = key is None or videos.record_page(
            state, key, index, page, time.time(), attempt=self.ctx.token
        )
        if not recorded:
            # Another attempt recorded its page first (this one ran past its time limit):
            # the page made here is the extra one.
            log.warning("another attempt wrote this page first: moving ours to the trash")
            self.notion.trash_page(page["id"])
            raise LeaseLost(f"{self.ctx.stage}: another attempt wrote the page")
        return page

    def _properties(self, schema: Schema, values: dict, references: bool) -> tuple[dict, str]:
        titles = _relations(schema, values)
        item = {
            **_without_relations(schema, values),
            **pipeline_values(schema, self.summary, self.ctx.job["link"]),
        }
        if references:
            item.update(_related_pages(self.notion, schema, titles))
        else:
            item = {n: v for n, v in item.items() if schema[n]["type"] not in REFERENCES}
        properties, _, title = render(schema, item, self.source, titles)
        return properties, title

    def _picture_files(self, schema: Schema, properties: dict) -> dict:
        """Files properties the summary left empty get the page's picture (the same upload
        as the cover, or the platform's thumbnail by address)."""
        empty = [n for n, p in schema.items() if p["type"] == "files" and n not in properties]
        shown = self.pictures.files()[:1] if empty else []
        if not shown:
            return {}
        file, caption = shown[0]
        named = {**file, "name": (caption or f"{self.ctx.job_id}.jpg")[:100]}
        return {name: {"files": [named]} for name in empty}

    def _create_once(
        self,
        key: str | None,
        index: int,
        schema: Schema,
        properties: dict,
        title: str,
        proof: dict,
        with_pictures: bool,
    ) -> dict:
        page: dict | None = None
        if key is not None:
            now = time.time()
            intent = {
                "job": self.ctx.job_id,
                "attempt": self.ctx.token,
                "since": jobs.iso(now),
                "title": title,
                "source": self.source,
                # Where to look for its page, should it appear late (svp.stages.late_pages).
                "data_source_id": self.data_source_id,
                "user": self.ctx.job["target"].get("user"),
            }
            earlier = videos.begin_page(self.ctx.runtime.state, key, index, intent, now)
            if earlier is not None and "page" in earlier:  # recorded since we looked
                page = earlier["page"]
            elif earlier is not None:  # an earlier attempt may have made the page: find it
                found = late_pages.pages_like(self.notion, self.data_source_id, schema, earlier)
                page = next(found, None)
        if page is not None:
            log.info("found the page an earlier attempt created: updating it")
            page = self.notion.update_page(page["id"], properties)
        else:
            shown = self.pictures.files() if with_pictures else []
            children = body.blocks(self.summary, self.source, proof, shown)
            cover = shown[0][0] if shown else None
            self.ctx.ensure_held()  # a worker that lost the stage must not create a page
            page = self.notion.create_page(self.data_source_id, properties, children, cover)
        return {"id": page["id"], "url": page.get("url", ""), "title": title}


WRITE_ATTEMPTS = 4
# What Notion says when it refuses a picture: an external image it will not show, an upload
# that expired or is not ready.
_PICTURE_WORDS = ("image", "cover", "file_upload", "file upload")


class _Plan:
    """What the next attempt at a page leaves out, after a refusal."""

    def __init__(self) -> None:
        self.fresh = False
        self.references = True
        self.pictures = True

    def next(self, reason: str) -> bool:
        """Leave out the likely cause of `reason`; False when nothing is left to try."""
        if self.pictures and any(word in reason.lower() for word in _PICTURE_WORDS):
            self.pictures = False
        elif not self.fresh:
            self.fresh = True
        elif self.references:
            self.references = False
        elif self.pictures:
            self.pictures = False
        else:
            return False
        return True


def _related_pages(notion: NotionGateway, schema: Schema, titles: dict[str, list]) -> dict:
    """A relation's entry titles -> the ids of the pages so titled in the related database;
    titles with no such page are left out."""
    found: dict[str, list[str]] = {}
    for name, wanted in titles.items():
        relation = schema[name].get("relation") or {}
        target = relation.get("data_source_id") or relation.get("database_id")
        if not target:
            continue
        source = notion.data_source_id(target)
        title = title_property(notion.schema(source))
        ids = []
        for entry in wanted[:RELATION_LIMIT]:
            match = {"property": title, "title": {"equals": str(entry)}}
            page = next(iter(notion.query(source, match)), None)
            if page is None:
                log.info("no entry titled %r in the database %s relates to", entry, name)
            else:
                ids.append(page["id"])
        if ids:
            found[name] = ids
    return found


def _updated(notion: NotionGateway, page_id: str, properties: dict) -> bool:
    """Update the video's page; False when it is gone (deleted or in the trash)."""
    try:
        page = notion.update_page(page_id, properties)
    except NotionRequestError as exc:
        if exc.status == 404 or "archived" in exc.reason:
            log.warning("the video's page %s is gone: writing a new one", page_id)
            return False
        raise
    return not page.get("in_trash") and not page.get("archived")


def _local_page(ctx: StageContext, title: str) -> Path:
    return local_page.reserve(ctx.runtime.settings.data_dir / "output", title, ctx.job_id)


def _write_local(ctx: StageContext, path: Path, properties_json: str, document: str) -> str:
    """The page as output/TITLE.md (its pictures beside it) and its properties as TITLE.json;
    the job's marker keeps the name this job's."""
    path.with_suffix(".json").write_text(properties_json)
    temporary = path.with_suffix(".md.tmp")
    temporary.write_text(f"{document}\n{local_page.marker(ctx.job_id)}\n")
    temporary.replace(path)
    return path.resolve().as_uri()
