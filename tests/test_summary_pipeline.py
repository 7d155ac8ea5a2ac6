"""The summarizer inside whole runs: `svp process` with an OpenAI-compatible LLM, and a
Places database with `many` through every stage (real media engines on a generated clip)."""

from __future__ import annotations

import json

import pytest

from svp.cli import main as svp
from svp.config import load_settings
from svp.runtime import jobs
from svp.summary import cost
from svp.wiring import build_runtime
from tests.pipeline_helpers import drain, enqueue, job
from tests.summary_helpers import THREE_PLACES, seed_schema

pytestmark = pytest.mark.slow


def test_svp_process_with_an_openai_compatible_llm_records_usage_and_cost(
    env, clips, capsys, monkeypatch, fake_openai
):
    monkeypatch.setenv("SVP_LLM_BASE_URL", fake_openai.base_url + "/v1")
    monkeypatch.setenv("SVP_LLM_MODEL", "local-model")
    fake_openai.models["local-model"] = None  # a local server's model
    monkeypatch.setenv("SVP_PRICE_INPUT_PER_MTOK", "1")
    monkeypatch.setenv("SVP_PRICE_OUTPUT_PER_MTOK", "2")

    def model(request: dict) -> dict:
        prompt = request["messages"][1]["content"]
        screen = prompt.split("## On-screen text\n", 1)[1].splitlines()
        return {
            "name": screen[0],
            "ingredients": ["spaghetti", "garlic", "basil"],
            "steps": "Boil the spaghetti for 10 minutes, then add the garlic and basil.",
            "_summary": "Tomato pasta in ten minutes.",
        }

    fake_openai.chat_responder = model
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("# Tomato Pasta")
    assert "Needs review" not in page
    assert "**ingredients**: spaghetti, garlic, basil" in page
    assert "Tomato pasta in ten minutes." in page  # the model's summary in the body

    (call,) = fake_openai.requests_to("/chat/completions")
    assert call.json["response_format"]["json_schema"]["strict"] is True
    runtime = build_runtime(load_settings(dotenv=None))
    (done,) = runtime.state.list(jobs.JOBS)
    output = done["stages"]["summarizer"]["output"]
    assert output["engine"] == "openai" and output["model"] == "local-model"
    assert output["items"] == 1 and output["needs_review"] is False
    assert output["usage"]["input_tokens"] > 100
    estimate = cost.estimate(done, runtime.settings)
    assert estimate["llm"]["usd"] > 0
    assert estimate["transcription"]["usd"] == 0 and estimate["ocr"]["usd"] == 0  # local engines
    summary = json.loads(runtime.blobs.get_bytes(output["artifacts"]["summary"]))
    assert summary["evidence"][0]["name"] == "on-screen text at 0:00"


def test_a_video_listing_three_places_yields_three_pages_with_many(
    env, clips, monkeypatch, fake_gemini
):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    runtime = build_runtime(load_settings(dotenv=None))
    fake_gemini.responder = lambda request: THREE_PLACES
    uri = runtime.blobs.put_file(
        runtime.artifact_key("j3", "input", "pasta.mp4"), clips / "pasta.mp4"
    )
    link = {"file": "pasta.mp4", "file_uri": uri, "tag": "places"}
    target = {"tag": "places", "schema": seed_schema("places"), "many": True}
    enqueue(runtime, "j3", link, target)
    drain(runtime)

    done = job(runtime, "j3")
    assert done["status"] == "done", done.get("error")
    assert done["stages"]["summarizer"]["output"]["items"] == 3
    pages = done["stages"]["writer"]["output"]["pages"]
    assert [p["title"] for p in pages] == ["Café Alfama", "Fábrica Coffee", "Grão"]
    (call,) = fake_gemini.requests_to(":generateContent")
    assert call.json["generationConfig"]["responseJsonSchema"]["required"] == ["items"]


def test_a_retired_gemini_model_fails_the_link_with_the_setting_to_change(
    env, clips, capsys, monkeypatch, fake_gemini
):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    monkeypatch.setenv("SVP_GEMINI_MODEL", "gemini-2.5-flash")  # shut down by Google
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) != 0
    err = capsys.readouterr().err
    assert "the model gemini-2.5-flash is not available: set SVP_GEMINI_MODEL" in err
    runtime = build_runtime(load_settings(dotenv=None))
    (failed,) = runtime.state.list(jobs.JOBS)
    assert failed["status"] == "failed"
    assert "set SVP_GEMINI_MODEL" in failed["error"]
    assert len(fake_gemini.requests_to(":generateContent")) == 1  # no retries, no re-runs
