"""Frames sent to OCR: text-change detection vs naive sampling every 2 s, on moving backgrounds.

Generates (once, cached in the temp folder) a set of clips whose backgrounds move every frame
(ffmpeg testsrc2) and whose overlay text changes at irregular intervals (3-12 s), some with a
title that stays on screen while the line below it changes. For each clip it counts the frames
the OCR stage reads (svp.media.screen.ScreenText: looks every SVP_OCR_INTERVAL, 0.3 s, and
reads only frames with new text) and the naive baseline's (a sample every 2 s), measured in the
same run, and reads both sets of frames with the engine (the default, RapidOCR, unless
--engine) to count how many of the distinct overlay lines each recovers.
Targets: at most one third of the naive frames; at least 95 % of the lines.
Usage: python bench/ocr_calls.py [--clips N] [--no-ocr] [--engine rapidocr|tesseract]
"""

from __future__ import annotations

import argparse
import difflib
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from svp.config import Settings  # noqa: E402
from svp.media.frames import TextChanges, sample_frames, text_samples  # noqa: E402
from svp.media.ocr import LineMerger, read_frames  # noqa: E402
from svp.media.screen import ScreenText  # noqa: E402
from tests.clipgen import FONT, _escape  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "svp-bench" / "ocr_calls"
_TEXT = """
tomato basil garlic onion pepper salt butter lemon honey ginger rice pasta flour sugar cream
cheese chicken beef tofu spinach carrot potato mushroom olive vinegar soy sauce boil bake stir
chop slice whisk fry roast simmer season serve mix pour grill
"""
WORDS = _TEXT.split()


def script(seed: int, duration: float) -> list[tuple[float, float, str]]:
    """Overlays for one clip: a new line every 3-12 s (sometimes a gap), maybe a fixed title."""
    rng = random.Random(seed)
    overlays: list[tuple[float, float, str]] = []
    t = 0.0
    while t < duration - 2:
        length = rng.uniform(3, 12)
        end = min(duration, t + length)
        words = rng.sample(WORDS, rng.randint(2, 3))
        overlays.append((round(t, 2), round(end, 2), f"Step {len(overlays) + 1} {' '.join(words)}"))
        t = end + (rng.uniform(1, 3) if rng.random() < 0.2 else 0.0)
    return overlays


def make(path: Path, overlays: list[tuple[float, float, str, str]], duration: float) -> None:
    """Like tests.clipgen.make_clip(moving=True), with a vertical position per overlay."""
    import subprocess

    width, height, fps = 540, 960, 25
    filters = ",".join(
        f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize={width // 16}:"
        f"fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=12:"
        f"x=(w-text_w)/2:y={y}:enable='between(t,{start},{end - 0.05})'"
        for start, end, text, y in overlays
    )
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
            str(duration),
            "-i",
            f"testsrc2=size={width}x{height}:rate={fps}",
            "-vf",
            filters,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(fps * 2),
            str(path),
        ],
        check=True,
    )


def clips(count: int, duration: float) -> list[tuple[Path, list[tuple[float, float, str]]]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    made = []
    # Seeds 2000+: clips never used while the detector's thresholds were tuned (0-9, 100-107,
    # 1000-1009 were).
    for seed in range(2000, 2000 + count):
        overlays = script(seed, duration)
        titled = seed % 3 == 1  # a title that stays on screen above the changing line
        drawn = [(s, e, text, "(h-text_h)/2") for s, e, text in overlays]
        if titled:
            drawn.append((0, duration, "Weeknight dinner", "h/5"))
        path = CACHE / f"clip-{seed}-{int(duration)}s{'-title' if titled else ''}.mp4"
        if not path.is_file():
            make(path, drawn, duration)
        made.append((path, overlays + ([(0, duration, "Weeknight dinner")] if titled else [])))
    return made


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def recovered(truth: list[str], lines: list[str]) -> int:
    keys = [_key(line) for line in lines]
    return sum(
        any(difflib.SequenceMatcher(None, _key(t), k).ratio() >= 0.8 for k in keys) for t in truth
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--no-ocr", action="store_true", help="count frames only")
    parser.add_argument("--engine", default=Settings().ocr_engine)
    args = parser.parse_args()
    settings = Settings(ocr_engine=args.engine)
    started = time.perf_counter()
    made = clips(args.clips, args.duration)
    print(
        f"{len(made)} clips of {args.duration:.0f} s, 540x960, moving testsrc2 background; "
        f"made or loaded in {time.perf_counter() - started:.1f} s"
    )
    totals = {"naive": 0, "sent": 0, "lines": 0, "naive_found": 0, "sent_found": 0}
    for path, overlays in made:
        truth = list(dict.fromkeys(text for _, _, text in overlays))
        naive = list(sample_frames(path, 2.0))
        if args.no_ocr:
            changes = TextChanges()
            sent = sum(1 for _ in text_samples(path, settings.ocr_interval_seconds, changes))
        else:
            screen = ScreenText(settings)  # the OCR stage's own path
            screen.read_video(path)
            sent = screen.frames_sent
        totals["naive"] += len(naive)
        totals["sent"] += sent
        totals["lines"] += len(truth)
        line = f"  {path.name:<28} naive {len(naive):3d}  sent {sent:3d}"
        if not args.no_ocr:
            got = [t.text for t in screen.lines()] + [p["text"] for p in screen.persistent()]
            merger = LineMerger()
            for seconds, lines in read_frames(((s.seconds, s.frame) for s in naive), settings):
                merger.add(lines, seconds)
            base = [t.text for t in merger.lines()]
            totals["sent_found"] += recovered(truth, got)
            totals["naive_found"] += recovered(truth, base)
            line += (
                f"  lines {len(truth):2d}: found {recovered(truth, got):2d}"
                f" (naive {recovered(truth, base):2d})"
            )
        print(line)
    ratio = totals["sent"] / totals["naive"]
    print(
        f"frames sent to OCR: {totals['sent']} vs naive every-2-s {totals['naive']}: "
        f"{ratio:.2f}x the naive count (target <= 0.33)"
    )
    if not args.no_ocr:
        share = totals["sent_found"] / totals["lines"]
        print(
            f"distinct overlay lines recovered: {totals['sent_found']}/{totals['lines']} = "
            f"{share:.1%} (target >= 95%); naive sampling recovers "
            f"{totals['naive_found']}/{totals['lines']} = "
            f"{totals['naive_found'] / totals['lines']:.1%}"
        )
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
