"""OCR: keyframe sampling, text-change detection on moving backgrounds, Vision batches, merging."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from svp.config import Settings
from svp.media.frames import TextChanges, plan_samples, sample_frames, text_samples
from svp.media.ocr import LineMerger, read_frames
from svp.media.picture import VERIFY
from svp.media.screen import ScreenText
from tests.clipgen import make_clip

# Overlays that change at irregular intervals, as in bench/ocr_calls.py.
OVERLAYS = [
    (0.0, 5.2, "Step 1 chop the onions"),
    (5.2, 13.9, "Step 2 fry them gently"),
    (13.9, 17.1, "Step 3 add the rice"),
    (17.1, 27.5, "Step 4 pour the stock"),
    (27.5, 32.0, "Step 5 stir and serve"),
]


@pytest.fixture(scope="module")
def moving_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ocr") / "moving.mp4"
    return make_clip(out, overlays=OVERLAYS, duration=32, size=(360, 640), fps=25, moving=True)


def test_samples_come_from_keyframes_when_close_and_exact_times_otherwise():
    keys = [0.0, 2.0, 4.04, 8.4]
    assert plan_samples(keys, 12.0, 2.0) == [0.0, 2.0, 4.04, 6.0, 8.4, 10.0]
    # A keyframe within a quarter of an interval serves a sample (8 s -> 8.4 s); 6 s and 10 s
    # have none that near: decoded at the exact time.
    assert plan_samples([0.0], 5.0, 2.0) == [0.0, 2.0, 4.0]


def test_sampled_frames_are_the_frames_shown_at_those_times(tmp_path):
    """Long groups of pictures (a keyframe every 10 s): samples decoded forward are exact."""
    clip = tmp_path / "long-gop.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-t",
            "12",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-x264-params",
            "keyint=250:min-keyint=250:scenecut=0",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],
        check=True,
    )
    import cv2

    capture = cv2.VideoCapture(str(clip))
    every_frame = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        every_frame.append(frame)
    samples = list(sample_frames(clip, 2.0))
    assert [s.seconds for s in samples] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    for sample in samples:
        expected = every_frame[round(sample.seconds * 25)]
        assert np.abs(sample.frame.astype(int) - expected.astype(int)).mean() < 1.0


def test_frames_with_unchanged_text_on_a_moving_background_are_not_sent(moving_clip):
    changes = TextChanges()
    sent = [s.seconds for s in text_samples(moving_clip, 0.3, changes)]
    assert changes.seen >= 32 / 0.35  # looked at about every 0.3 s
    assert len(sent) <= 16 / 3  # a third of the frames a sample every 2 s would read
    for start, end, text in OVERLAYS:  # every line is on at least one frame sent
        assert any(start <= t < end for t in sent), (text, sent)


def test_the_lines_of_the_frames_sent_are_all_read_by_tesseract_too(moving_clip):
    screen = ScreenText(Settings(ocr_engine="tesseract"))
    screen.read_video(moving_clip)
    read = " | ".join(line.text.lower() for line in screen.lines())
    for _, _, text in OVERLAYS:
        assert text.lower() in read, read


def test_one_still_line_over_moving_footage_is_read_once_and_is_content(tmp_path):
    clip = make_clip(
        tmp_path / "still.mp4",
        overlays=[(0, 20, "Only one line")],
        duration=20,
        size=(360, 640),
        moving=True,
    )
    changes = TextChanges()
    sent = [s.seconds for s in text_samples(clip, 0.3, changes)]
    assert sent == [0.0] and changes.seen > 60
    screen = ScreenText(Settings(ocr_engine="tesseract"))
    screen.read_video(clip)
    # On screen all along, but large and in the middle: a title, not a watermark.
    assert [line.text for line in screen.lines()] == ["Only one line"]
    assert screen.persistent() == []


def test_near_duplicate_lines_fold_into_the_most_read_spelling():
    merger = LineMerger()
    merger.add(["Spaghettl", "~ . ,", "a"], 0.0)
    merger.add(["Spaghetti", "Garlic and basil"], 2.0)
    merger.add(["SPAGHETTI", "Spaghetti", "Garlic and basi1"], 4.0)
    merger.add(["l | i : ;", "Serve hot"], 6.0)
    lines = merger.lines()
    assert [line.text for line in lines] == ["Spaghetti", "Garlic and basil", "Serve hot"]
    assert [line.seconds for line in lines] == [0.0, 2.0, 6.0]


def test_vision_reads_sixteen_images_per_request(fake_vision):
    frames = [(i, np.full((64, 64, 3), i * 10, dtype=np.uint8)) for i in range(20)]
    fake_vision.responder = lambda image: f"text {len(fake_vision.requests_to('images:annotate'))}"
    settings = Settings(ocr_engine="vision", vision_endpoint=fake_vision.base_url)
    labels = [label for label, _ in read_frames(iter(frames), settings)]
    assert labels == list(range(20))
    batches = [len(r.json["requests"]) for r in fake_vision.requests_to("images:annotate")]
    assert batches == [16, 4]
    features = fake_vision.requests_to("images:annotate")[0].json["requests"][0]["features"]
    assert features[0]["type"] in ("TEXT_DETECTION", 5)  # enums travel as integers


@pytest.mark.slow
def test_the_ocr_stage_sends_only_changed_frames_to_vision(
    env, moving_clip, capsys, monkeypatch, fake_vision
):
    from svp.cli import main as svp

    monkeypatch.setenv("SVP_OCR", "vision")
    monkeypatch.setenv("SVP_VISION_ENDPOINT", fake_vision.base_url)
    seen: list[bytes] = []

    def read(image: bytes) -> str:
        seen.append(image)
        return OVERLAYS[min(len(seen), len(OVERLAYS)) - 1][2]

    fake_vision.responder = read
    assert svp(["process", str(moving_clip), "--tag", "cooking"]) == 0
    capsys.readouterr()
    assert svp(["jobs", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    output = job["stages"]["ocr"]["output"]
    assert output["frames"] > 90 and output["frames_sent"] <= 6
    assert 1 <= output["picture_checks"] <= VERIFY  # the page's frame, checked for text
    assert output["frames_sent"] + output["picture_checks"] == len(seen)
    assert job["cost"]["ocr"]["images"] == len(seen)
