"""Notion's documented limits, as the product meets them: each test drives notion-client
against the fake, which enforces the limit as the documentation states it."""

from __future__ import annotations

from svp.notion.gateway import NotionGateway
from svp.notion.properties import encode_properties, rich_text
from tests.fakes.notion import plain


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_text_is_split_by_utf16_length_so_emoji_fit(notion_env):
    _, source = notion_env.add_database("Notes", {"Name": "title", "Notes": "rich_text"})
    notion = NotionGateway(notion_env.token, notion_env.base_url)
    text = "🍝" * 1500 + " " + "🍅x" * 900  # 3000 + 1 + 2700 UTF-16 units, 3301 code points
    assert all(_units(part["text"]["content"]) <= 2000 for part in rich_text(text))
    properties = encode_properties(notion.schema(source), {"Name": "t", "Notes": text})
    page = notion.create_page(source, properties)  # the fake answers 400 past 2000 units
    assert plain(notion_env.page(page["id"]), "Notes") == text
