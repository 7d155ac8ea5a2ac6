"""The writer against what Notion refuses: a picture Notion will not show costs the page
its picture only, at once, and nothing else (issue 18 item 11)."""

from __future__ import annotations

from svp.config import load_settings
from svp.runtime import jobs
from svp.wiring import build_runtime
from tests.fakes.notion import FAKE_USER_ID
from tests.test_notion import deliver_to_writer
from tests.test_page_fields import ready

THUMBNAIL = "https://p16-sign.tiktokcdn.example/obj/thumb~tplv-noop.image?x-expires=1"


def _with_thumbnail(runtime, job_id: str) -> None:
    def add(d):
        downloader = {**d["stages"]["downloader"], "output": {"thumbnail_url": THUMBNAIL}}
        return {**d, "stages": {**d["stages"], "downloader": downloader}}, None

    runtime.state.update(jobs.JOBS, job_id, add)


def test_a_files_property_gets_the_videos_picture(notion_env):
    runtime = build_runtime(load_settings(dotenv=None))
    _, source = notion_env.add_database("Recipes", {"name": "title", "Photos": "files"})
    ready(runtime, "f1", source, [{"name": "Pasta"}], review=False)
    _with_thumbnail(runtime, "f1")
    assert deliver_to_writer(runtime, "f1").detail == "done"
    (page,) = notion_env.pages_in(source)
    files = page["properties"]["Photos"]["files"]
    assert [f["external"]["url"] for f in files] == [THUMBNAIL]


def test_a_refused_thumbnail_url_drops_the_picture_at_once_and_keeps_the_people(notion_env):
    runtime = build_runtime(load_settings(dotenv=None))
    _, ingredients = notion_env.add_database("Ingredients", {"Name": "title"})
    tomato = notion_env.add_page(ingredients, {"Name": "Tomato"})
    relation = {"data_source_id": ingredients, "type": "single_property", "single_property": {}}
    _, source = notion_env.add_database(
        "Recipes",
        {
            "name": "title",
            "Ingredients": {"type": "relation", "relation": relation},
            "Saved by": "people",
        },
    )
    ready(
        runtime,
        "t1",
        source,
        [{"name": "Pasta", "Ingredients": ["Tomato"]}],
        review=False,
        saved_by=FAKE_USER_ID,
    )
    runtime.state.update(
        jobs.JOBS,
        "t1",
        lambda d: (
            {
                **d,
                "stages": {
                    **d["stages"],
                    "downloader": {
                        **d["stages"]["downloader"],
                        "output": {"thumbnail_url": THUMBNAIL},
                    },
                },
            },
            None,
        ),
    )
    notion_env.refuse_image_url(THUMBNAIL)  # "Invalid image url."
    before = len(notion_env.requests)
    assert deliver_to_writer(runtime, "t1").detail == "done"
    creates = [
        r for r in notion_env.requests[before:] if r.method == "POST" and r.path == "/v1/pages"
    ]
    assert len(creates) == 2  # the refused one, then at once the page without the picture
    (page,) = notion_env.pages_in(source)
    assert [r["id"] for r in page["properties"]["Ingredients"]["relation"]] == [tomato]
    assert [p["id"] for p in page["properties"]["Saved by"]["people"]] == [FAKE_USER_ID]
    assert notion_env.cover_of(page["id"]) is None
