"""Whole runs as a user makes them: `svp process`, `svp run --once` against Notion, Gemini."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from svp.cli import main as svp
from tests.fakes.notion import plain

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _svp_subprocess(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "svp.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT / "shared")},
    )


def test_svp_process_turns_a_served_clip_into_a_page(env, media_server):
    result = _svp_subprocess("process", f"{media_server}/pasta.mp4", "--tag", "cooking", env=env)
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert page.startswith("# Tomato Pasta")  # the title is the first text shown on screen
    assert re.search(r"\*\*ingredients\*\*: Spaghetti, Garlic and basil", page)
    # the spoken instruction as a numbered step, under the property
    assert re.search(r"\*\*steps\*\*:.*\n  1\. Boil the spaghetti for 10 minutes", page)
    assert f"**video_link**: {media_server}/pasta.mp4" in page
    assert "Needs review" in page
    for stage in ("downloader", "transcriber", "ocr", "summarizer", "writer"):
        assert re.search(rf"✓ {stage}\s+\d+\.\d s", result.stderr), result.stderr


def test_svp_process_json_prints_only_the_notion_properties(env, clips, capsys):
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking", "--json"]) == 0
    properties = json.loads(capsys.readouterr().out)
    assert properties["name"]["title"][0]["text"]["content"] == "Tomato Pasta"
    assert "video_link" not in properties  # a local file has no link
    assert {o["name"] for o in properties["ingredients"]["multi_select"]} == {
        "Spaghetti",
        "Garlic and basil",
    }


def _sections(prompt: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", prompt, flags=re.M)
    return {parts[i].split(" (")[0]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def gemini_reads_the_prompt(request: dict) -> dict:
    """Answers as a model would: from the labelled sections it was sent."""
    prompt = request["contents"][0]["parts"][0]["text"]
    sections = _sections(prompt)
    screen = sections["On-screen text"].splitlines()
    return {
        "name": screen[0],
        "ingredients": screen[1:],
        "steps": sections["Transcript"],
        "video_link": "https://invented.example/by-the-model",
    }


def test_gemini_fills_the_schema_through_the_real_sdk(env, clips, capsys, monkeypatch, fake_gemini):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    monkeypatch.setenv("SVP_GEMINI_MODEL", "gemini-3.8-flash")
    fake_gemini.responder = gemini_reads_the_prompt

    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("# Tomato Pasta")
    assert "Needs review" not in page
    assert re.search(r"\*\*steps\*\*: .*boil the spaghetti", page, re.I)

    (call,) = fake_gemini.requests_to(":generateContent")
    assert "gemini-3.8-flash" in call.path
    assert call.headers["x-goog-api-key"] == "test-key"
    config = call.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseJsonSchema"]
    assert schema["properties"]["ingredients"]["type"] == "array"
    assert schema["properties"]["name"]["type"] == "string"
    assert schema["required"] == ["name"]


def test_gemini_down_falls_back_to_a_page_marked_for_review(
    env, clips, capsys, monkeypatch, fake_gemini
):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    fake_gemini.fail_next(503, times=10)
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    assert "Needs review: Gemini failed" in page
    assert page.startswith("# Tomato Pasta")


@pytest.fixture
def notion_setup(env, monkeypatch, fake_notion):
    links_db, links = fake_notion.add_database(
        "Links",
        {
            "Name": "title",
            "url": "url",
            "tag": {"type": "select", "options": ["cooking", "places"]},
            "status": {"type": "select", "options": ["pending", "done", "failed"]},
            "error": "rich_text",
            "result": "url",
            "updated_time": "date",
        },
    )
    cooking_db, cooking = fake_notion.add_database(
        "Cooking", json.loads((ROOT / "shared/svp/schemas/cooking.json").read_text())
    )
    monkeypatch.setenv("NOTION_TOKEN", fake_notion.token)
    monkeypatch.setenv("NOTION_BASE_URL", fake_notion.base_url)
    monkeypatch.setenv("SVP_LINK_DATABASES", links_db)
    monkeypatch.setenv("SVP_CONTENT_DATABASES", f"cooking={cooking_db}")
    return links, cooking


def test_svp_run_once_processes_notion_links_and_reports_each_outcome(
    notion_setup, fake_notion, media_server, capsys
):
    links, cooking = notion_setup
    good = fake_notion.add_page(
        links,
        {
            "Name": "pasta",
            "url": f"{media_server}/pasta.mp4",
            "tag": "cooking",
            "status": "pending",
        },
    )
    bad_url = fake_notion.add_page(
        links, {"Name": "typo", "url": "htp:/oops", "tag": "cooking", "status": "pending"}
    )
    no_db = fake_notion.add_page(
        links,
        {"Name": "cafe", "url": f"{media_server}/pasta.mp4", "tag": "places", "status": "pending"},
    )
    missing = fake_notion.add_page(
        links,
        {"Name": "gone", "url": f"{media_server}/gone.mp4", "tag": "cooking", "status": "pending"},
    )
    untouched = fake_notion.add_page(
        links,
        {"Name": "old", "url": f"{media_server}/pasta.mp4", "tag": "cooking", "status": "done"},
    )

    assert svp(["run", "--once"]) == 0

    def link(page_id: str, prop: str):
        return plain(fake_notion.page(page_id), prop)

    (page,) = fake_notion.pages_in(cooking)
    assert plain(page, "name") == "Tomato Pasta"
    assert "spaghetti" in plain(page, "steps").lower()
    assert plain(page, "video_link") == f"{media_server}/pasta.mp4"
    # The page says which model heard the speech, as the local page does.
    assert "Transcript (en, speech, heard by faster-whisper" in fake_notion.page_text(page["id"])
    # No LLM here: the extractive summary, marked for review, and the link says why.
    assert link(good, "status") == "done (needs review)"
    assert link(good, "result") == page["url"]
    assert link(good, "error").startswith("needs review: no LLM configured")
    assert link(good, "updated_time")

    assert link(bad_url, "status") == "failed"
    assert "not a web link" in link(bad_url, "error")
    assert link(no_db, "status") == "failed"
    assert "registered tags: cooking" in link(no_db, "error")
    assert link(missing, "status") == "failed"
    assert "not found" in link(missing, "error")
    assert link(untouched, "status") == "done"

    # Running again changes nothing: no pending links, no new pages.
    capsys.readouterr()
    assert svp(["run", "--once"]) == 0
    assert json.loads(capsys.readouterr().out)["queued"] == []
    assert len(fake_notion.pages_in(cooking)) == 1

    # `svp jobs --failed` shows each failure's reason.
    assert svp(["jobs", "--failed"]) == 0
    listing = capsys.readouterr().out
    assert "registered tags: cooking" in listing and "not a web link" in listing
