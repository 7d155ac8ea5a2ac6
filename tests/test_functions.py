"""Every Cloud Function through functions-framework: push envelopes and binary CloudEvents."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import functions_framework
import pytest

import svp.functions
from svp.messages import JobMessage
from svp.wiring import build_runtime
from tests.pipeline_helpers import enqueue, job

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
PIPELINE = ("downloader", "transcriber", "ocr", "summarizer", "writer")
# Which message each stage reacts to.
SOURCE = {
    "downloader": "poller",
    "transcriber": "downloader",
    "ocr": "downloader",
    "summarizer": "ocr",
    "writer": "summarizer",
}


@pytest.fixture
def client_for(env):
    svp.functions.reset()
    yield lambda name: functions_framework.create_app(
        target="handle", source=str(FUNCTIONS / name / "main.py")
    ).test_client()
    svp.functions.reset()


def envelope(message: JobMessage, attempt: int | None) -> dict:
    body = {
        "message": {
            "data": base64.b64encode(message.encode()).decode(),
            "attributes": message.attributes(),
            "messageId": "1",
            "publishTime": "2026-11-26T10:00:00Z",
        },
        "subscription": "projects/p/subscriptions/s",
    }
    if attempt is not None:
        body["deliveryAttempt"] = attempt
    return body


def post_push(client, message: JobMessage, attempt: int = 1):
    return client.post("/", json=envelope(message, attempt))


def post_cloudevent(client, message: JobMessage):
    headers = {
        "ce-id": "evt-1",
        "ce-specversion": "1.0",
        "ce-source": "//pubsub.googleapis.com/t",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
    }
    return client.post(
        "/",
        data=json.dumps(envelope(message, None)),
        headers=headers,
        content_type="application/json",
    )


@pytest.mark.slow
def test_each_stage_function_runs_its_stage_and_publishes_the_next(
    client_for, settings, media_server
):
    runtime = build_runtime(settings)
    enqueue(
        runtime,
        "fn1",
        {"url": f"{media_server}/pasta.mp4", "tag": "cooking"},
        {
            "tag": "cooking",
            "schema": json.loads((ROOT / "shared/svp/schemas/cooking.json").read_text()),
        },
    )
    for index, stage in enumerate(PIPELINE):
        client = client_for(stage)
        message = JobMessage("fn1", SOURCE[stage])
        # Alternate the two shapes Pub/Sub and Eventarc use.
        response = post_push(client, message) if index % 2 else post_cloudevent(client, message)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert job(runtime, "fn1")["stages"][stage]["state"] == "done"

    finished = job(runtime, "fn1")
    assert finished["status"] == "done"
    page = Path(finished["result"]["page_url"].removeprefix("file://")).read_text()
    assert "Tomato Pasta" in page  # shown on screen
    assert "spaghetti" in page.lower()  # spoken
    # Each stage published its output to the next topic (the join published once).
    topics = [m.topic for m in runtime.bus.lease(100, 1)]
    assert topics.count("svp-media") == 2  # one copy per subscriber: transcriber and ocr
    assert topics.count("svp-extracted") == 1
    assert topics.count("svp-summaries") == 1


def test_a_redelivered_message_is_acked_without_running_again(client_for, settings):
    runtime = build_runtime(settings)
    enqueue(runtime, "fn2", {"url": "not a url at all"})
    client = client_for("downloader")
    first = post_push(client, JobMessage("fn2", "poller"))
    assert first.status_code == 200  # a permanent failure acks
    assert "not a web link" in job(runtime, "fn2")["error"]
    again = post_push(client, JobMessage("fn2", "poller"), attempt=2)
    assert again.status_code == 200
    assert again.get_data(as_text=True) == "job closed"


def test_a_malformed_request_is_acked_with_a_reason_not_retried(client_for):
    response = client_for("writer").post("/", json={"unexpected": True})
    assert response.status_code == 200
    assert "bad message" in response.get_data(as_text=True)


def test_bad_configuration_is_reported_by_name(client_for, monkeypatch, capsys):
    monkeypatch.setenv("SVP_MAX_ATTEMPTS", "many")
    monkeypatch.setenv("SVP_BACKEND", "cloud")
    response = client_for("ocr").post("/", json=envelope(JobMessage("x", "downloader"), 1))
    assert response.status_code == 500  # nacked: the message waits for a fixed deployment
    logged = capsys.readouterr().out
    assert "SVP_MAX_ATTEMPTS='many': must be a whole number" in logged
    assert "SVP_BACKEND='cloud': must be one of local, gcp" in logged


HEAVY = {
    "cv2": "OpenCV",
    "yt_dlp": "yt-dlp",
    "faster_whisper": "faster-whisper",
    "ctranslate2": "CTranslate2",
    "google.genai": "google-genai",
    "openai": "openai",
    "google.cloud.vision": "Cloud Vision",
    "google.cloud.storage": "Cloud Storage",
    "pytesseract": "pytesseract",
    "notion_client": "notion-client",
    "rapidocr": "RapidOCR",
    "onnxruntime": "onnxruntime",
    "py3langid": "py3langid",
}
ALLOWED = {
    "poller": set(),
    "downloader": set(),
    "transcriber": set(),
    "ocr": set(),
    "summarizer": set(),
    "writer": set(),
}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_importing_a_function_loads_no_heavy_library(name):
    """Cold starts: main.py imports only the framework and svp's thin entry module."""
    paths = [str(ROOT / "shared"), str(FUNCTIONS / name)]
    main = str(FUNCTIONS / name / "main.py")
    code = (
        f"import sys, runpy; sys.path[:0] = {paths!r}; runpy.run_path({main!r}); "
        f"print(','.join(m for m in {sorted(HEAVY)!r} if m in sys.modules)); "
        "from functions_framework import _function_registry as r; "
        "print(r.REGISTRY_MAP.get('handle'))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, registered = run.stdout.splitlines()
    unexpected = {m for m in loaded.split(",") if m} - ALLOWED[name]
    assert not unexpected, f"{name} imports {[HEAVY[m] for m in sorted(unexpected)]} at start"
    # The name Terraform deploys (entry_point = "handle") is the one registered as http.
    assert registered == "http"


def test_a_key_stored_as_none_counts_as_not_set(env, monkeypatch):
    """Secret Manager cannot hold an empty value: `none` switches an optional key off."""
    from svp.config import load_settings

    monkeypatch.setenv("OPENAI_API_KEY", "none")
    monkeypatch.setenv("GEMINI_API_KEY", "None")
    settings = load_settings(dotenv=None)
    assert settings.openai_api_key == "" and settings.gemini_api_key == ""
