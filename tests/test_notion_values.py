"""Every property value a person can make in Notion reads back as a plain value, and no row
stops a poll (issue 18 items 16, 17, 19). Shapes as Notion's page property values reference
shows them: https://developers.notion.com/reference/page-property-values"""

from __future__ import annotations

import pytest

from svp.notion.links import read_entry
from svp.notion.properties import plain

PERSON = {
    "object": "user",
    "id": "6595192e-1c62-4f33-801c-84424f2ffa9c",
    "name": "Ana Pinheiro",
    "avatar_url": None,
    "type": "person",
    "person": {"email": "ana@example.com"},
}
BOT = {"object": "user", "id": "27910b45-ae07-403c-b7e9-35b5adc896af", "name": "svp", "type": "bot"}
TEXT = {"type": "text", "text": {"content": "a note", "link": None}, "plain_text": "a note"}

VALUES = [
    ({"type": "formula", "formula": {"type": "string", "string": "fx"}}, "fx"),
    ({"type": "formula", "formula": {"type": "number", "number": 1.5}}, 1.5),
    ({"type": "formula", "formula": {"type": "boolean", "boolean": False}}, False),
    (
        {"type": "formula", "formula": {"type": "date", "date": {"start": "2026-03-01"}}},
        "2026-03-01",
    ),
    ({"type": "rollup", "rollup": {"type": "number", "number": 7, "function": "sum"}}, 7),
    (
        {
            "type": "rollup",
            "rollup": {
                "type": "array",
                "function": "show_original",
                "array": [
                    {"type": "rich_text", "rich_text": [TEXT]},
                    {"type": "number", "number": 2},
                ],
            },
        },
        ["a note", 2],
    ),
    ({"type": "rollup", "rollup": {"type": "incomplete", "incomplete": {}}}, None),
    ({"type": "created_by", "created_by": BOT}, "svp"),
    ({"type": "last_edited_by", "last_edited_by": {"object": "user", "id": "u-1"}}, "u-1"),
    (
        {"type": "people", "people": [PERSON, {"object": "user", "id": "u-2"}]},
        ["Ana Pinheiro", "u-2"],
    ),
    (
        {
            "type": "files",
            "files": [
                {"name": "a.jpg", "type": "external", "external": {"url": "https://x.y/a.jpg"}},
                {
                    "name": "b.pdf",
                    "type": "file",
                    "file": {"url": "https://s3/b", "expiry_time": "x"},
                },
            ],
        },
        ["https://x.y/a.jpg", "https://s3/b"],
    ),
    ({"type": "relation", "relation": [{"id": "r1"}], "has_more": False}, ["r1"]),
    ({"type": "unique_id", "unique_id": {"prefix": "TASK", "number": 12}}, "TASK-12"),
    ({"type": "unique_id", "unique_id": {"prefix": None, "number": 3}}, 3),
    (
        {
            "type": "verification",
            "verification": {
                "state": "verified",
                "verified_by": PERSON,
                "date": {"start": "2026-01-01"},
            },
        },
        "verified",
    ),
    (
        {"type": "date", "date": {"start": "2026-09-30", "end": "2026-10-02", "time_zone": None}},
        "2026-09-30 → 2026-10-02",
    ),
    (
        {
            "type": "date",
            "date": {"start": "2026-09-30T10:00:00", "end": None, "time_zone": "Europe/Paris"},
        },
        "2026-09-30T10:00:00 (Europe/Paris)",
    ),
    (
        {"type": "date", "date": {"start": "2026-09-30", "end": None, "time_zone": None}},
        "2026-09-30",
    ),
    ({"type": "button", "button": {}}, None),
    ({"type": "number", "number": 0}, 0),
    ({"type": "checkbox", "checkbox": False}, False),
    (
        {"type": "created_time", "created_time": "2026-09-30T16:00:00.000Z"},
        "2026-09-30T16:00:00.000Z",
    ),
    ({"type": "hologram", "hologram": {"x": 1}}, None),
]


@pytest.mark.parametrize(("value", "expected"), VALUES, ids=[v["type"] for v, _ in VALUES])
def test_every_property_value_reads_as_a_plain_value(value, expected):
    assert plain(value) == expected


def test_a_relation_cut_short_says_so():
    ids = [{"id": f"r{i}"} for i in range(25)]
    read = plain({"type": "relation", "relation": ids, "has_more": True})
    assert read == [f"r{i}" for i in range(25)] and read.has_more is True
    assert not getattr(plain({"type": "relation", "relation": ids[:1]}), "has_more", False)


def test_a_wiki_data_source_among_the_rows_is_not_a_link():
    entry = {"object": "data_source", "id": "ds-in-wiki", "properties": {}}
    assert read_entry(entry, "source") is None


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("tag", {"type": "multi_select", "multi_select": [{"name": "a"}, {"name": "b"}]}),
        ("url", {"type": "number", "number": 3}),
        ("processing_type", {"type": "people", "people": [PERSON]}),
    ],
)
def test_a_row_of_an_unexpected_type_raises_a_reason_not_a_crash(prop, value):
    from svp.notion.links import LinkRowError

    props = {"url": {"type": "url", "url": "https://x.y/v"}, prop: value}
    with pytest.raises(LinkRowError) as caught:
        read_entry({"object": "page", "id": "p", "properties": props}, "s")
    assert f"'{prop}'" in caught.value.reason and value["type"] in caught.value.reason


def test_a_single_tag_in_a_multi_select_is_read():
    props = {
        "url": {"type": "url", "url": "https://x.y/v"},
        "tag": {"type": "multi_select", "multi_select": [{"name": "Cooking"}]},
    }
    assert read_entry({"object": "page", "id": "p", "properties": props}, "s").tag == "cooking"


LINKS = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": ["cooking"]},
    "status": {"type": "select", "options": ["pending", "queued", "done", "failed"]},
    "error": "rich_text",
}


def test_a_row_of_an_unexpected_type_fails_alone_and_the_poll_goes_on(notion_env):
    from svp.cli import main as svp
    from svp.config import load_settings
    from svp.stages.poller import poll
    from svp.wiring import build_runtime
    from tests.fakes.notion import plain as shown

    db, links = notion_env.add_database("Links", LINKS)
    _, recipes = notion_env.add_database("Recipes", {"name": "title", "video_link": "url"})
    assert svp(["register", "link-db", db]) == 0
    assert svp(["register", "content-db", recipes, "--tag", "cooking"]) == 0
    notion_env.change_property_type(links, "tag", "multi_select")  # a person changed it
    notion_env.add_wiki_entry(links, "Nested data source")  # and made it a wiki
    rows = {
        name: notion_env.add_page(
            links,
            {"Name": name, "url": f"https://youtu.be/{name}", "tag": tags, "status": "pending"},
        )
        for name, tags in (
            ("one", ["cooking"]),
            ("two", ["cooking", "places"]),
            ("three", ["cooking"]),
        )
    }
    report = poll(build_runtime(load_settings(dotenv=None)))
    assert report.errors == []
    assert sorted(report.queued) == sorted(rows[n].replace("-", "") for n in ("one", "three"))
    assert report.failed == [rows["two"].replace("-", "")]
    assert shown(notion_env.page(rows["two"]), "status") == "failed"
    assert "'tag' property is multi_select with 2 values" in shown(
        notion_env.page(rows["two"]), "error"
    )


EVERY_KIND = [
    "rich_text",
    "number",
    "select",
    "multi_select",
    "status",
    "date",
    "people",
    "files",
    "checkbox",
    "url",
    "email",
    "phone_number",
    {"type": "formula", "formula": {"expression": "1"}},
    {"type": "rollup", "rollup": {"function": "count"}},
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
    {"type": "unique_id", "unique_id": {"prefix": "L"}},
    "verification",
    "button",
]


@pytest.mark.parametrize("role", ["url", "tag", "processing_type", "status"])
@pytest.mark.parametrize("kind", EVERY_KIND, ids=lambda k: k if isinstance(k, str) else k["type"])
def test_no_property_type_a_person_can_choose_crashes_reading_a_row(fake_notion, role, kind):
    from svp.notion.links import LinkEntry, LinkRowError

    schema = {"Name": "title", "url": "url", "tag": "select", "status": "select", role: kind}
    _, source = fake_notion.add_database("Any", schema)
    page = fake_notion.page(fake_notion.add_page(source, {"Name": "row"}))
    scalar = (str, int, float, bool, type(None))
    for value in page["properties"].values():  # every value in Notion's read shape
        read = plain(value)
        assert isinstance(read, scalar) or (
            isinstance(read, list) and all(isinstance(v, scalar) for v in read)
        ), value
    try:
        entry = read_entry(page, source)
    except LinkRowError as exc:
        assert role in exc.reason
    else:
        assert isinstance(entry, LinkEntry)
