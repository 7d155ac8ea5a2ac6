"""Who fills each Notion property type of a Content Database page: one table for the summary's
response schema (svp.summary.json_schema), what registration says it leaves out
(svp.notion.leftout) and what `svp process --schema` accepts (svp.cli_input).
Types: https://developers.notion.com/reference/property-object
"""

from __future__ import annotations

# The model: from what the video says and shows (relation: the related entries' titles).
MODEL = ("title", "rich_text", "number", "checkbox", "date", "url", "email", "phone_number")
MODEL += ("select", "multi_select", "status", "relation")
# The pipeline itself, and how.
PIPELINE = {
    "files": "gets the video's picture",
    "people": "gets the person who saved the link (when Notion says who)",
}
# Notion computes them.
NOTION = ("formula", "rollup", "created_time", "created_by", "last_edited_time")
NOTION += ("last_edited_by", "unique_id")
# Nobody: a person sets them in Notion, or they hold no value.
NOBODY = ("verification", "button", "place", "location")

ALL = (*MODEL, *PIPELINE, *NOTION, *NOBODY)
# Without Notion (`svp process`), relations and people have nothing to point at; the page's
# pictures lie beside it.
LOCAL = (*(t for t in MODEL if t != "relation"), "files")
