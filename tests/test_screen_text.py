"""Every word shown on screen reaches the page; marks that stay on screen do not reach properties.

Real engines (ffmpeg, OpenCV, RapidOCR's bundled models) on short generated clips: a moving
background, a counter in one corner and a handle in another, like social videos.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from svp.cli import main as svp
from svp.config import Settings
from svp.media.screen import ScreenText
from svp.summary.content import Content
from svp.summary.extractive import extract
from tests.clipgen import COUNTER_TIMECODE, Overlay, make_overlay_clip

pytestmark = pytest.mark.slow

OVERLAYS = [
    Overlay(0.4, 2.0, "Lemon tart", y="h*0.3", size=12),
    Overlay(2.35, 3.15, "Chop finely", y="h*0.62", size=16),  # 0.8 s, between 2-s samples
    Overlay(3.6, 4.6, "MINT 14", size=18),  # a short word and a number, small, for 1 s
    Overlay(5.0, 6.6, "Serve warm", y="h*0.3", size=14),
]
SCHEMA = {
    "name": {"type": "title"},
    "steps": {"type": "rich_text"},
    "tags": {"type": "multi_select", "options": []},
    "servings": {"type": "number"},
    "made_on": {"type": "date"},
    "phone": {"type": "phone_number"},
}


@pytest.fixture(scope="module")
def marked_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("screen") / "marked.mp4"
    return make_overlay_clip(
        out, OVERLAYS, duration=7.0, size=(540, 960), counter=COUNTER_TIMECODE, watermark="@chefmia"
    )


@pytest.fixture(scope="module")
def read(marked_clip: Path) -> ScreenText:
    screen = ScreenText(Settings(ocr_engine="rapidocr"))
    screen.read_video(marked_clip)
    return screen


def test_short_overlays_are_read_word_for_word(read):
    lines = [line.text for line in read.lines()]
    assert lines == [overlay.text for overlay in OVERLAYS]
    # Only frames with new text are read: the first (the marks) and one per overlay, of about
    # 23 looked at (a time code's tens of seconds may tick once more).
    assert read.frames_sent <= 6 < 20 < read.frames


def test_a_corner_counter_and_a_handle_are_on_screen_throughout(read):
    persistent = read.persistent()
    assert "@chefmia" in [p["text"] for p in persistent]
    (counter,) = [p for p in persistent if p.get("changing")]
    assert re.fullmatch(r"00:00:0\d[.\s]*\d{3}", counter["text"])
    values = extract(
        Content(
            url="",
            tag="cooking",
            screen_lines=[{"text": line.text, "seconds": line.seconds} for line in read.lines()],
        ),
        SCHEMA,
    )
    assert values["name"] == "Lemon tart"
    shown = json.dumps(values)
    assert "chefmia" not in shown and not re.search(r"\d\d:\d\d", shown), shown
    assert "phone" not in values and "made_on" not in values and "servings" not in values


def test_the_page_shows_marks_apart_and_keeps_them_out_of_properties(
    env, marked_clip, capsys, monkeypatch
):
    monkeypatch.delenv("SVP_OCR")  # the default engine, as a user gets it
    assert svp(["process", str(marked_clip), "--tag", "cooking"]) == 0
    page = capsys.readouterr().out
    properties, body = page.split("\n## ", 1)
    assert properties.startswith("# Lemon tart")
    assert "chefmia" not in properties and not re.search(r"\d\d:\d\d", properties)
    for overlay in OVERLAYS:
        assert overlay.text in body
    throughout = body.split("## On screen throughout\n", 1)[1]
    assert "@chefmia" in throughout
    assert "(changing: a counter or clock)" in throughout


def test_rapidocr_reads_with_the_network_unreachable(marked_clip, monkeypatch):
    """Its models ship inside the wheel and are named by path: nothing is fetched at run time
    (an engine left to its defaults downloads a missing model)."""
    from svp.media import ocr
    from svp.media.frames import sample_frames

    monkeypatch.setattr(ocr, "_rapid", [])  # a fresh engine, built here
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    frame = next(s.frame for s in sample_frames(marked_clip, 1.0) if s.seconds >= 3.9)
    assert "MINT 14" in [line.text for line in ocr.rapidocr_lines(frame)]
