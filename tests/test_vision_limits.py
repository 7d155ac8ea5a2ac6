"""Cloud Vision as documented, through the real google-cloud-vision client and FakeVision:
requests under 10 MB and 16 images, bounded retries, failures named and never the whole
post's text lost."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from svp.config import Settings
from svp.media import ocr
from svp.media.ocr import read_frames, vision_run
from tests.fakes.vision import MAX_IMAGES, MAX_REQUEST_BYTES


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(ocr, "VISION_RETRY_FIRST", 0.01, raising=False)


def _textured(count: int, seed: int = 7) -> list[tuple[int, np.ndarray]]:
    """Phone frames (1080x1920) of noise: the worst case for JPEG size."""
    rng = np.random.default_rng(seed)
    return [(i, rng.integers(0, 256, (1920, 1080, 3), dtype=np.uint8)) for i in range(count)]


def _settings(fake) -> Settings:
    return Settings(ocr_engine="vision", vision_endpoint=fake.base_url)


def test_textured_phone_frames_go_in_requests_under_the_documented_limits(fake_vision):
    fake_vision.responder = lambda image: "Step 1 chop the onions"
    frames = _textured(20)
    with vision_run() as problems:
        read = list(read_frames(iter(frames), _settings(fake_vision)))
    assert [label for label, _ in read] == list(range(20))
    assert all(lines for _, lines in read) and problems == []
    calls = fake_vision.requests_to("images:annotate")
    assert all(len(c.body) <= MAX_REQUEST_BYTES for c in calls)
    assert all(len(c.json["requests"]) <= MAX_IMAGES for c in calls)
    # Downscaled for text detection (about 1024 px), at most 1.5 MB each.
    assert max(len(image) for image in fake_vision.images) <= ocr.VISION_MAX_IMAGE_BYTES


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(fake_vision, quick_retries, status):
    fake_vision.responder = lambda image: "Serve warm"
    fake_vision.fail_next(status, times=2)
    with vision_run() as problems:
        ((_, lines),) = read_frames([(0, np.zeros((64, 64, 3), np.uint8))], _settings(fake_vision))
    assert [s.text for s in lines] == ["Serve warm"] and problems == []
    assert len(fake_vision.requests_to("images:annotate")) == 3


def test_retries_end_within_their_budget_and_the_failure_is_named(
    fake_vision, quick_retries, monkeypatch
):
    monkeypatch.setattr(ocr, "VISION_RETRY_SECONDS", 0.5, raising=False)
    fake_vision.fail_next(503, times=1000)
    started = time.monotonic()
    with vision_run() as problems:
        read = list(read_frames([(0, np.zeros((64, 64, 3), np.uint8))], _settings(fake_vision)))
    assert time.monotonic() - started < 5
    assert read == [(0, [])]
    assert problems and "Cloud Vision failed on 1 images" in problems[0]
    assert "503" in problems[0]


def test_the_default_retry_budget_is_well_under_the_function_limit():
    from svp import limits

    worst = ocr.VISION_RETRY_SECONDS + ocr.VISION_TIMEOUT_SECONDS
    assert worst < limits.timeout_seconds("ocr") / 2


def test_a_per_image_error_loses_that_image_only_and_is_named(fake_vision, quick_retries):
    fake_vision.responder = lambda image: "Add the rice"
    fake_vision.fail_images(code=3, message="Bad image data.")  # INVALID_ARGUMENT: not retried
    frames = [(i, np.full((64, 64, 3), i, np.uint8)) for i in range(3)]
    with vision_run() as problems:
        read = list(read_frames(iter(frames), _settings(fake_vision)))
    assert [len(lines) for _, lines in read] == [0, 1, 1]
    assert problems == ["Cloud Vision could not read 1 of 3 images (code 3: Bad image data.)"]


def test_a_transient_per_image_error_is_asked_again(fake_vision, quick_retries):
    fake_vision.responder = lambda image: "Add the rice"
    fake_vision.fail_images(code=14)  # UNAVAILABLE
    frames = [(i, np.full((64, 64, 3), i, np.uint8)) for i in range(3)]
    with vision_run() as problems:
        read = list(read_frames(iter(frames), _settings(fake_vision)))
    assert [len(lines) for _, lines in read] == [1, 1, 1] and problems == []
    assert [len(c.json["requests"]) for c in fake_vision.requests_to("images:annotate")] == [3, 1]


def test_a_refused_service_is_raised_for_the_stage_to_name(fake_vision):
    from google.api_core import exceptions

    fake_vision.fail_next(403, message="Cloud Vision API has not been used in project 1.")
    with pytest.raises(exceptions.Forbidden), vision_run():
        list(read_frames([(0, np.zeros((64, 64, 3), np.uint8))], _settings(fake_vision)))


@pytest.mark.slow
def test_the_ocr_stage_keeps_what_was_read_and_names_the_image_it_lost(
    env, clips, capsys, monkeypatch, fake_vision
):
    from svp.cli import main as svp

    monkeypatch.setenv("SVP_OCR", "vision")
    monkeypatch.setenv("SVP_VISION_ENDPOINT", fake_vision.base_url)
    monkeypatch.setenv("SVP_OCR_INTERVAL", "0.5")
    fake_vision.responder = lambda image: "Vision Pasta"
    fake_vision.fail_images(code=3, message="Bad image data.")  # the first frame read
    assert svp(["process", str(clips / "pasta.mp4"), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("# Vision Pasta")  # the other frames' text made the page
    assert svp(["jobs", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    warning = job["stages"]["ocr"]["output"]["warning"]
    assert warning.startswith("Cloud Vision could not read 1 of ")
    assert "Bad image data." in warning
