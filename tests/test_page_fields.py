"""What a page says besides its summary: whether it needs review (a property people can filter
on), the entries it relates to and who saved the link; through the real writer and
notion-client against the fake Notion."""

from __future__ import annotations

import json
import time

import pytest

from svp.cli import main as svp
from svp.config import load_settings
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.wiring import build_runtime
from tests.fakes._notion_schema import FAKE_USER_ID
from tests.fakes.notion import plain
from tests.test_notion import deliver_to_writer


def ready(
    runtime: Runtime, job_id: str, source: str, items: list, *, review: bool, saved_by: str = ""
) -> None:
    """A job whose stages up to the summarizer are done, with this summary."""
    link = {
        "url": f"https://www.tiktok.com/@chef/video/{job_id}",
        "tag": "cooking",
        "saved_by": saved_by,
    }
    job = jobs.new_job(job_id, link, {"tag": "cooking", "data_source_id": source}, time.time())
    notes = ["Gemini failed (503); filled without an LLM"] if review else []
    summary = {
        "items": items,
        "evidence": [{} for _ in items],
        "engine": "extractive" if review else "gemini",
        "needs_review": review,
        "notes": notes,
        "summary": "A summary.",
        "content": {"caption": "", "transcript": "", "screen_lines": []},
    }
    uri = runtime.blobs.put_bytes(f"jobs/{job_id}/summary.json", json.dumps(summary).encode())
    for stage in ("downloader", "transcriber", "ocr", "summarizer"):
        job["stages"][stage].update(state="done", output={})
    job["stages"]["summarizer"]["output"] = {"artifacts": {"summary": uri}}
    runtime.state.put(jobs.JOBS, job_id, job)


@pytest.mark.parametrize(
    ("review_property", "needed", "unneeded"),
    [
        ({"Needs review": "checkbox"}, True, False),
        ({"Review": {"type": "select", "options": ["Needs review", "OK"]}}, "Needs review", None),
        (
            {"Stage": {"type": "status", "options": ["To cook", "Needs review", "Cooked"]}},
            "Needs review",
            "To cook",
        ),
    ],
)
def test_a_page_that_needs_review_says_so_in_a_property_people_can_filter_on(
    notion_env, review_property, needed, unneeded
):
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", **review_property})
    (name,) = review_property
    ready(runtime, "r1", source, [{"name": "Pasta"}], review=True)
    ready(runtime, "r2", source, [{"name": "Soup"}], review=False)
    for job_id in ("r1", "r2"):
        assert deliver_to_writer(runtime, job_id).detail == "done"
    pages = {plain(p, "name"): p for p in notion_env.pages_in(source)}
    assert plain(pages["Pasta"], name) == needed
    assert plain(pages["Soup"], name) == unneeded  # (a status keeps its default)
    finished = runtime.state.get(jobs.JOBS, "r1")
    assert jobs.shown_status(finished) == "done (needs review)"
    assert jobs.shown_note(finished) == "needs review: Gemini failed (503); filled without an LLM"


def test_the_review_mark_is_the_pipelines_not_the_models():
    from svp.summary.json_schema import fillable

    schema = {
        "name": {"name": "name", "type": "title"},
        "Needs review": {"name": "Needs review", "type": "checkbox"},
        "Vegan": {"name": "Vegan", "type": "checkbox"},
    }
    assert set(fillable(schema)) == {"name", "Vegan"}


def test_registering_a_content_database_offers_a_review_checkbox(notion_env, capsys):
    _, source = notion_env.add_database("Recipes", {"name": "title", "video": "url"})
    assert svp(["register", "content-db", source, "--tag", "cooking"]) == 0
    assert "add a checkbox 'Needs review' (or use --fix)" in capsys.readouterr().err
    assert svp(["register", "content-db", source, "--tag", "cooking", "--fix"]) == 0
    assert notion_env.schema(source)["Needs review"]["type"] == "checkbox"


def test_relations_are_found_by_title_and_people_get_whoever_saved_the_link(notion_env):
    runtime = build_runtime(load_settings(dotenv=None))
    _, ingredients = notion_env.add_database("Ingredients", {"Name": "title"})
    tomato = notion_env.add_page(ingredients, {"Name": "Tomato"})
    basil = notion_env.add_page(ingredients, {"Name": "Basil"})
    _, source = notion_env.add_database(
        "Recipes",
        {
            "name": "title",
            "Ingredients": {
                "type": "relation",
                "relation": {
                    "data_source_id": ingredients,
                    "type": "single_property",
                    "single_property": {},
                },
            },
            "Saved by": "people",
        },
    )
    item = {"name": "Pasta", "Ingredients": ["Tomato", "Basil", "Unicorn"]}
    ready(runtime, "p1", source, [item], review=False, saved_by=FAKE_USER_ID)
    assert deliver_to_writer(runtime, "p1").detail == "done"
    (page,) = notion_env.pages_in(source)
    related = {r["id"] for r in page["properties"]["Ingredients"]["relation"]}
    assert related == {tomato, basil}  # no entry is titled "Unicorn": left out
    assert [p["id"] for p in page["properties"]["Saved by"]["people"]] == [FAKE_USER_ID]


def test_a_person_notion_does_not_know_leaves_the_people_property_empty(notion_env):
    """The row was added by an integration (a bot) or someone who left: Notion refuses them
    as people, and the page is written without."""
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", "Saved by": "people"})
    stranger = "11111111-1111-4111-8111-111111111111"
    ready(runtime, "p2", source, [{"name": "Soup"}], review=False, saved_by=stranger)
    assert deliver_to_writer(runtime, "p2").detail == "done"
    (page,) = notion_env.pages_in(source)
    assert plain(page, "name") == "Soup" and page["properties"]["Saved by"]["people"] == []
