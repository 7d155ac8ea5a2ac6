"""Words as they were shown on screen: the spaces the frame shows, no stray edge letters.

svp.media.spacing measures the gaps between the recognizer's characters on the frame; the
readings fed in here are the recognizer's kind of mistakes ("keeps3 days", "sblend smooth").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from svp.config import Settings
from svp.media import ocr, spacing
from svp.media.screen import ScreenText
from tests.clipgen import Overlay, make_overlay_clip

BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _busy(height: int, width: int) -> np.ndarray:
    """Colour bars and noise, like footage behind an overlay."""
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    for index, colour in enumerate([(0, 200, 255), (255, 0, 0), (0, 255, 0), (255, 0, 255)]):
        frame[:, index * width // 4 : (index + 1) * width // 4 : 2] = colour
    return frame


def _shown(text: str, stray_left: bool = False):
    """A frame showing `text` (white, black outline, over busy footage) and the recognizer's
    characters for it: (char, score, box) at each letter's place, spaces not among them."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(BOLD, 60)
    frame = Image.fromarray(_busy(200, 900))
    draw = ImageDraw.Draw(frame)
    left, top = 120, 60
    draw.text((left, top), text, font=font, fill="white", stroke_width=4, stroke_fill="black")
    chars = []
    for index, char in enumerate(text):
        if char == " ":
            continue
        start = left + font.getlength(text[:index])
        end = left + font.getlength(text[: index + 1])
        chars.append((char, 0.99, [[start, 70], [end, 70], [end, 130], [start, 130]]))
    if stray_left:  # a letter read into the footage before the line
        chars.insert(0, ("s", 0.9, [[70, 70], [100, 70], [100, 130], [70, 130]]))
    corners = [[60 if stray_left else 110, 50], [860, 50], [860, 145], [60, 145]]
    return np.asarray(frame)[:, :, ::-1].copy(), chars, corners


@pytest.mark.parametrize(
    ("shown", "read"),
    [
        ("keeps 3 days", "keeps3 days"),
        ("simmer 20 min", "simmer 20min"),
        ("1 cup water", "1 cupwater"),
        ("stir in cream", "stirincream"),
    ],
)
def test_a_space_the_frame_shows_is_put_back(shown, read):
    frame, chars, corners = _shown(shown)
    assert spacing.as_shown(read, chars, frame, corners)[0] == shown


def test_letters_of_one_word_are_never_split():
    for word in ("simmer", "Mozzarella", "illumination", "200g"):
        frame, chars, corners = _shown(word)
        assert spacing.as_shown(word, chars, frame, corners)[0] == word


def test_a_stray_letter_at_the_edge_is_dropped():
    frame, chars, corners = _shown("blend smooth", stray_left=True)
    text, kept = spacing.as_shown("sblend smooth", chars, frame, corners)
    assert text == "blend smooth"
    assert [c[0] for c in kept] == list("blendsmooth")


def test_a_line_whose_colour_cannot_be_told_is_left_as_read():
    frame, chars, corners = _shown("keeps 3 days")
    noise = np.random.default_rng(1).integers(0, 255, frame.shape, dtype=np.uint8)
    assert spacing.as_shown("keeps3 days", chars, noise, corners)[0] == "keeps3 days"
    # characters that do not line up with the text: left as read
    assert spacing.as_shown("keeps3 days", chars[:-1], frame, corners)[0] == "keeps3 days"


@pytest.mark.slow
def test_the_page_shows_overlay_words_apart_in_several_styles(tmp_path: Path):
    """Overlays the recognizer read run together before (bench/ocr_words.py): a serif font with
    an outline at 1080x1920, a condensed one on a box at 540x960."""
    styles = [
        ((1080, 1920), "dejavu/DejaVuSerif-Bold.ttf", "outline", "yellow", 13,
         "life=mold=10:r=30:ratio=0.1:death_color=#C83232:life_color=#00ff00",
         [Overlay(0.3, 1.3, "rest 10 min", "(h-text_h)/2", size=13),
          Overlay(1.5, 2.5, "cool 1 hour", "h*0.4", size=13)]),
        ((540, 960), "dejavu/DejaVuSansCondensed-Bold.ttf", "box", "white", 12, "testsrc2",
         [Overlay(0.3, 1.8, "serve with rice", "h*0.6", size=12),
          Overlay(2.0, 3.5, "stir in cream", "h*0.6", size=12)]),
    ]  # fmt: skip
    for index, (size, font, style, colour, _, background, overlays) in enumerate(styles):
        clip = make_overlay_clip(
            tmp_path / f"style-{index}.mp4",
            overlays,
            duration=overlays[-1].end + 0.5,
            size=size,
            background=background,
            font=f"/usr/share/fonts/truetype/{font}",
            style=style,
            colour=colour,
        )
        screen = ScreenText(Settings(ocr_engine="rapidocr"))
        screen.read_video(clip)
        lines = [line.text for line in screen.lines()]
        assert ocr.WORDS_AS_SHOWN
        for overlay in overlays:
            assert overlay.text in lines, lines


def test_punctuation_keeps_to_its_word():
    frame, chars, corners = _shown("serve with rice  .")
    assert spacing.as_shown("serve with rice.", chars, frame, corners)[0] == "serve with rice."
