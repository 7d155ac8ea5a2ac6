"""Registration says what a database has that the pipeline cannot use, and --fix does what
the API allows (issue 18 items 14, 16, 18)."""

from __future__ import annotations

from svp.cli import main as svp
from svp.notion.linkschema import STATUS_VALUES

LINKS = {
    "Name": "title",
    "url": "url",
    "tag": {"type": "select", "options": ["cooking"]},
    "status": {"type": "select", "options": ["pending", "done", "failed"]},
}


def test_fix_adds_the_missing_status_options_to_a_status_property(notion_env, capsys):
    db, source = notion_env.add_database(
        "Links", {**LINKS, "status": {"type": "status", "options": ["pending", "done"]}}
    )
    assert svp(["register", "link-db", db, "--fix"]) == 0
    status = notion_env.schema(source)["status"]["status"]
    assert [o["name"] for o in status["options"]][:2] == ["pending", "done"]  # kept
    assert set(STATUS_VALUES) <= {o["name"] for o in status["options"]}
    to_do = next(g for g in status["groups"] if g["name"] == "To Do")
    added = {o["id"] for o in status["options"] if o["name"] in ("queued", "failed")}
    assert added <= set(to_do["option_ids"])  # where Notion puts new options
    assert "lacks the options" not in capsys.readouterr().err


def test_a_wrong_typed_optional_property_is_named_as_such(notion_env, capsys):
    db, source = notion_env.add_database(
        "Links", {**LINKS, "processing_type": {"type": "multi_select", "options": ["reprocess"]}}
    )
    assert svp(["register", "link-db", db]) == 0
    err = capsys.readouterr().err
    assert "'processing_type' is multi_select, expected select" in err
    assert "processing_type' (select) is missing" not in err
    assert svp(["register", "link-db", db, "--fix"]) == 0
    err = capsys.readouterr().err
    assert "'processing_type' is multi_select" in err and "change its type" in err
    assert notion_env.schema(source)["processing_type"]["type"] == "multi_select"  # untouched


def test_a_wrong_typed_required_property_says_what_to_do(notion_env, capsys):
    db, _ = notion_env.add_database("Links", {**LINKS, "tag": "multi_select"})
    assert svp(["register", "link-db", db, "--fix"]) == 1
    err = capsys.readouterr().err
    assert "'tag' is multi_select, expected select" in err
    assert "change its type to select in Notion" in err


def test_content_registration_names_the_properties_the_summary_leaves_out(notion_env, capsys):
    db, _ = notion_env.add_database(
        "Recipes",
        {
            "name": "title",
            "video_link": "url",
            "Photos": "files",
            "Cook": "people",
            "Score": {"type": "formula", "formula": {"expression": "1"}},
            "Made": "created_time",
            "Key": "unique_id",
        },
    )
    assert svp(["register", "content-db", db, "--tag", "cooking"]) == 0
    err = capsys.readouterr().err
    assert "Photos (files): gets the video's picture" in err
    assert "Cook (people): gets the person who saved the link" in err
    for name in ("Score (formula)", "Made (created_time)", "Key (unique_id)"):
        assert name in err and "Notion fills" in err
