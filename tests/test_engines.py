"""The cloud engines through their real SDKs (Vision OCR, OpenAI transcription) and bad input."""

from __future__ import annotations

import json
import re

import pytest

from svp.cli import main as svp
from svp.media.picture import VERIFY

pytestmark = pytest.mark.slow


def test_vision_ocr_reads_changed_frames_through_the_real_client(
    env, clips, capsys, monkeypatch, fake_vision
):
    monkeypatch.setenv("SVP_OCR", "vision")
    monkeypatch.setenv("SVP_VISION_ENDPOINT", fake_vision.base_url)
    monkeypatch.setenv("SVP_OCR_INTERVAL", "0.5")
    seen = []

    def read(image: bytes) -> str:
        seen.append(image)
        return "Vision Pasta\nseen by the cloud" if len(seen) == 1 else "Basil"

    fake_vision.responder = read
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("# Vision Pasta")
    assert "Basil" in page
    batches = [len(r.json["requests"]) for r in fake_vision.requests_to("images:annotate")]
    # Only frames whose text changed: one per overlay, in one request; then the page's frame
    # checked for overlay text, one frame at a time until one has none (here every one has).
    assert batches[0] == 3 and batches[1:] == [1] * len(batches[1:])
    assert 1 <= len(batches[1:]) <= VERIFY
    assert all(image[:2] == b"\xff\xd8" for image in seen)  # JPEG frames


def test_a_vision_outage_leaves_the_page_without_on_screen_text(
    env, clips, capsys, monkeypatch, fake_vision
):
    monkeypatch.setenv("SVP_OCR", "vision")
    monkeypatch.setenv("SVP_VISION_ENDPOINT", fake_vision.base_url)
    fake_vision.fail_next(403, times=50)
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    assert "spaghetti" in page.lower()  # the transcript still made the page
    assert "## On-screen text" not in page


def test_openai_transcription_is_used_when_a_key_is_set(
    env, clips, capsys, monkeypatch, fake_openai
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url + "/v1")
    monkeypatch.setenv("SVP_TRANSCRIBE_MODEL", "gpt-transcribe")
    fake_openai.transcriber = lambda name, audio, form: "Whisk three eggs with a pinch of salt."
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    assert re.search(
        r"\*\*steps\*\*:.*\n  1\. Whisk three eggs with a pinch of salt\.", capsys.readouterr().out
    )
    (upload,) = fake_openai.uploads
    assert upload["model"].data == b"gpt-transcribe"
    assert upload["file"].filename.endswith(".flac")


def test_a_schema_file_shapes_the_page(env, clips, tmp_path, capsys):
    schema = tmp_path / "snacks.json"
    schema.write_text(
        json.dumps(
            {
                "Dish": {"type": "title"},
                "Said": {"type": "rich_text"},
                "Shown": {"type": "multi_select"},
            }
        )
    )
    assert (
        svp(
            [
                "process",
                str(clips / "pasta.mp4"),
                "--tag",
                "snacks",
                "--schema",
                str(schema),
                "--json",
            ]
        )
        == 0
    )
    properties = json.loads(capsys.readouterr().out)
    assert set(properties) == {"Dish", "Said", "Shown"}


def test_an_unknown_tag_is_refused_with_the_known_ones(env, clips, capsys):
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "travel"]) == 2
    assert "registered tags: cooking, places" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("hello world", r"not a web link: 'hello world'"),
        ("{server}/page.html", r"this site or link is not supported"),
        ("{server}/missing.mp4", r"the video was not found .*404"),
        ("{server}/not-media.mp4", r"not a video: the downloaded file is not audio or video"),
    ],
)
def test_bad_input_fails_once_with_a_readable_reason(env, media_server, capsys, target, reason):
    url = target.format(server=media_server)
    assert svp(["process", url, "--tag", "cooking"]) == 1
    assert re.search(reason, capsys.readouterr().err)
    assert svp(["jobs", "--failed", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert re.search(reason, job["error"])
    assert job["stages"]["downloader"]["attempts"] == 1  # permanent: never retried


def test_bad_links_do_not_disturb_a_good_one_processed_alongside(runtime, media_server):
    from svp.summary.targets import bundled_schemas, normalize_schema
    from tests.pipeline_helpers import drain, enqueue, job

    target = {"tag": "cooking", "schema": normalize_schema(bundled_schemas()["cooking"])}
    enqueue(runtime, "bad1", {"url": f"{media_server}/missing.mp4"}, target)
    enqueue(runtime, "good", {"url": f"{media_server}/pasta.mp4"}, target)
    enqueue(runtime, "bad2", {"url": "ftp://127.0.0.1/x.mp4"}, target)
    drain(runtime)
    assert job(runtime, "good")["status"] == "done"
    assert job(runtime, "bad1")["status"] == job(runtime, "bad2")["status"] == "failed"
    assert runtime.bus.waiting() == 0 and runtime.bus.dead_letters() == []
