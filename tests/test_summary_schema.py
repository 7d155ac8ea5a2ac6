"""From a Notion schema to the JSON schema the model answers in: every property type."""

from __future__ import annotations

import json

from svp.summary.json_schema import fillable, response_schema, strictly
from svp.summary.targets import normalize_schema
from tests.summary_helpers import EVERY_TYPE, seed_schema


def test_cooking_schema_from_the_seed():
    schema = response_schema(seed_schema("cooking"))
    fields = schema["properties"]
    assert schema["type"] == "object" and schema["required"] == ["name"]
    assert fields["name"]["type"] == "string" and "title" in fields["name"]["description"]
    assert fields["video_link"] == {
        "type": "string",
        "description": "video_link (an absolute http(s) URL)",
    }
    assert fields["ingredients"]["type"] == "array"
    assert fields["ingredients"]["items"] == {"type": "string"}
    assert fields["steps"] == {"type": "string", "description": "steps"}
    assert fields["_summary"]["type"] == "string"  # the page's short summary
    assert set(fields) == {"name", "video_link", "ingredients", "steps", "_summary"}


def test_places_schema_from_the_seed():
    fields = response_schema(seed_schema("places"))["properties"]
    assert fields["is_popup"]["type"] == "boolean"
    assert fields["categories"]["type"] == "array"
    assert fields["website"]["type"] == "string" and "URL" in fields["website"]["description"]
    for name in ("address", "recommendation", "hours"):
        assert fields[name] == {"type": "string", "description": name}


def test_every_property_type():
    fields = fillable(EVERY_TYPE)
    assert fields["Name"]["description"].startswith("Name: The dish, as the video names it")
    assert fields["Notes"] == {"type": "string", "description": "Notes"}
    assert fields["Servings"]["type"] == "number"
    assert fields["Vegetarian"]["type"] == "boolean"
    assert fields["Posted"]["type"] == "string" and fields["Posted"]["format"] == "date"
    assert "YYYY-MM-DD" in fields["Posted"]["description"]
    assert fields["Website"]["type"] == "string" and "URL" in fields["Website"]["description"]
    assert fields["Contact"]["format"] == "email"
    assert "phone number" in fields["Phone"]["description"]
    # select: free (Notion creates new options) but the existing ones are offered
    assert "enum" not in fields["Course"]
    assert "Main, Dessert" in fields["Course"]["description"]
    # status: only existing options (the API cannot create them); none at all: not filled
    assert fields["Stage"]["enum"] == ["To try", "Cooked"]
    assert "Empty status" not in fields
    assert fields["Tags"]["type"] == "array" and "Italian" in fields["Tags"]["description"]
    # a relation: the titles of the related entries (the writer finds their pages)
    assert fields["Related"]["type"] == "array" and "titles" in fields["Related"]["description"]
    # nothing the model must not fill: files, people, read-only types
    assert set(fields) == {
        "Name",
        "Notes",
        "Servings",
        "Vegetarian",
        "Posted",
        "Website",
        "Contact",
        "Phone",
        "Course",
        "Stage",
        "Tags",
        "Related",
    }


def test_many_wraps_the_entries_in_items():
    schema = response_schema(seed_schema("places"), many=True)
    assert schema["required"] == ["items"]
    items = schema["properties"]["items"]
    assert items["type"] == "array"
    assert items["items"]["required"] == ["name"]
    assert items["items"]["properties"]["is_popup"]["type"] == "boolean"
    assert "_summary" in schema["properties"] and "_summary" not in items["items"]["properties"]


def test_strict_variant_for_openai():
    strict = response_schema(EVERY_TYPE, many=True, strict=True)

    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield node
            for value in node.values():
                yield from objects(value)

    for node in objects(strict):
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    item = strict["properties"]["items"]["items"]["properties"]
    assert item["Name"]["type"] == "string"  # required: not nullable
    assert item["Servings"]["type"] == ["number", "null"]
    assert item["Stage"]["enum"] == ["To try", "Cooked", None]
    assert strictly(strict) == strict  # idempotent
    assert json.dumps(strict)  # plain JSON


def test_a_property_named_like_the_summary_key_keeps_its_field():
    schema = normalize_schema({"Title": {"type": "title"}, "_summary": {"type": "rich_text"}})
    fields = response_schema(schema)["properties"]
    assert fields["_summary"] == {"type": "string", "description": "_summary"}
    assert fields["__summary"]["description"].startswith("one or two sentences")


def test_schema_from_the_fake_notion_data_source(monkeypatch, env, fake_notion):
    _, source = fake_notion.add_database(
        "Recipes",
        {
            "Name": "title",
            "Course": {"type": "select", "options": ["Main", "Dessert"]},
            "Stage": {"type": "status", "options": ["To try", "Cooked"]},
            "Tags": {"type": "multi_select", "options": ["Italian"]},
            "Servings": "number",
            "Posted": "date",
            "Photos": "files",
        },
    )
    monkeypatch.setenv("NOTION_TOKEN", fake_notion.token)
    monkeypatch.setenv("NOTION_BASE_URL", fake_notion.base_url)
    from svp.config import load_settings
    from svp.stages.targets import schema_of
    from svp.wiring import build_runtime

    schema = schema_of(build_runtime(load_settings(dotenv=None)), {"data_source_id": source})
    fields = response_schema(schema)["properties"]
    assert fields["Stage"]["enum"] == ["To try", "Cooked"]
    assert "Main, Dessert" in fields["Course"]["description"]
    assert fields["Servings"]["type"] == "number" and "Photos" not in fields
