"""Words as they were shown: overlay words that reach the page intact, before and after the
spacing measured on the frame (svp.media.spacing), in one run.

Generates (once, cached in the temp folder) clips in several styles: resolutions from 540x960
to 1080x1920; bold, regular, condensed, narrow and serif fonts; text on dark boxes, with a black
outline or with a drop shadow; over moving backgrounds (ffmpeg testsrc2, mandelbrot, life).
Overlays are short cooking phrases with numbers ("simmer 20 min", "keeps 3 days"), shown 1-2 s.
Each clip goes through the OCR stage's own path (svp.media.screen.ScreenText, RapidOCR) twice:
with `svp.media.ocr.WORDS_AS_SHOWN` off (before) and on (after). Printed per style and in
total: overlay words found intact as words of a line on the page (a merged "cupwater" or a
"sblend" loses both words), and the lines that differ.
Usage: python bench/ocr_words.py [--styles N] [--per-style N]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from svp.config import Settings  # noqa: E402
from svp.media import ocr  # noqa: E402
from svp.media.screen import ScreenText  # noqa: E402
from tests.clipgen import Overlay, make_overlay_clip  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "svp-bench" / "ocr_words"
FONTS = Path("/usr/share/fonts/truetype")
PHRASES = [
    "1 cup water",
    "simmer 20 min",
    "blend smooth",
    "keeps 3 days",
    "add 2 eggs",
    "bake at 180C",
    "rest 10 min",
    "salt to taste",
    "chop 1 onion",
    "serve with rice",
    "whisk 3 eggs",
    "stir in cream",
    "top with basil",
    "fry 5 min",
    "mix well",
    "cool 1 hour",
    "2 tbsp honey",
    "pinch of salt",
]
# (name, size, font, style, colour, background, font size = width / this)
STYLES = [
    ("1080 bold outline", (1080, 1920), "dejavu/DejaVuSans-Bold.ttf", "outline", "white",
     "testsrc2", 12),
    ("720 bold box", (720, 1280), "liberation/LiberationSans-Bold.ttf", "box", "white",
     "mandelbrot", 14),
    ("1080 serif outline", (1080, 1920), "dejavu/DejaVuSerif-Bold.ttf", "outline", "yellow",
     "life=mold=10:r=30:ratio=0.1:death_color=#C83232:life_color=#00ff00", 13),
    ("540 condensed box", (540, 960), "dejavu/DejaVuSansCondensed-Bold.ttf", "box", "white",
     "testsrc2", 12),
    ("720 narrow outline", (720, 1280), "liberation/LiberationSansNarrow-Bold.ttf", "outline",
     "yellow", "mandelbrot", 11),
    ("1080 regular shadow", (1080, 1920), "dejavu/DejaVuSans.ttf", "shadow", "white",
     "testsrc2", 13),
    ("1080 bold 90px shadow", (1080, 1920), "liberation/LiberationSans-Bold.ttf", "shadow",
     "white", "mandelbrot", 12),
]  # fmt: skip


def script(seed: int, per: int) -> list[Overlay]:
    rng = random.Random(seed)
    rows = ("h*0.25", "h*0.4", "(h-text_h)/2", "h*0.6")
    overlays, t = [], 0.3
    for text in rng.sample(PHRASES, per):
        length = rng.choice((1.0, 1.5, 2.0))
        overlays.append(Overlay(round(t, 2), round(t + length, 2), text, rng.choice(rows), size=0))
        t += length + 0.2
    return overlays


def clips(count: int, per_style: int = 1) -> list[tuple[str, Path, list[Overlay]]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count * per_style):
        name, size, font, style, colour, background, share = STYLES[index % count]
        overlays = [
            Overlay(o.start, o.end, o.text, o.y, "(w-text_w)/2", share)
            for o in script(7100 + index, 6)
        ]
        duration = overlays[-1].end + 0.5
        path = CACHE / f"words-{index}-v2.mp4"
        if not path.is_file():
            make_overlay_clip(
                path,
                overlays,
                duration=duration,
                size=size,
                background=background,
                font=str(FONTS / font),
                style=style,
                colour=colour,
            )
        made.append((name, path, overlays))
    return made


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def intact(overlays: list[Overlay], lines: list[str]) -> tuple[int, int, list[str]]:
    """(words found as words of a line, words shown, the overlays not all found)."""
    read = {w for line in lines for w in _tokens(line)}
    shown = found = 0
    missed = []
    for overlay in overlays:
        words = _tokens(overlay.text)
        shown += len(words)
        hits = sum(w in read for w in words)
        found += hits
        if hits < len(words):
            missed.append(overlay.text)
    return found, shown, missed


def read(path: Path, spaced: bool) -> tuple[list[str], float]:
    ocr.WORDS_AS_SHOWN = spaced
    screen = ScreenText(Settings(ocr_engine="rapidocr"))
    started = time.perf_counter()
    screen.read_video(path)
    return [line.text for line in screen.lines()], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--styles", type=int, default=len(STYLES))
    parser.add_argument("--per-style", type=int, default=1, help="clips of each style")
    args = parser.parse_args()
    made = clips(args.styles, args.per_style)
    totals = {False: [0, 0, 0.0], True: [0, 0, 0.0]}
    print(f"{'style':<22} {'before':>9} {'after':>9}   lines that changed (before -> after)")
    for name, path, overlays in made:
        row = f"{name:<22}"
        lines_by = {}
        for spaced in (False, True):
            lines, seconds = read(path, spaced)
            found, shown, _ = intact(overlays, lines)
            totals[spaced][0] += found
            totals[spaced][1] += shown
            totals[spaced][2] += seconds
            lines_by[spaced] = lines
            row += f" {found:>4}/{shown:<4}"
        changed = [
            f"{a!r}->{b!r}" for a, b in zip(lines_by[False], lines_by[True], strict=False) if a != b
        ]
        print(row + "   " + "; ".join(changed[:4]))
    before, after = totals[False], totals[True]
    print(
        f"{'total':<22} {before[0] / before[1]:>9.1%} {after[0] / after[1]:>9.1%}   "
        f"overlay words intact; OCR time {before[2]:.1f} s before, {after[2]:.1f} s after"
    )
    ocr.WORDS_AS_SHOWN = True


if __name__ == "__main__":
    main()
