"""The page's frame: does it show overlay text, and what does choosing it cost?

On the clips of bench/ocr_quality.py (16 s, moving backgrounds, overlays 0.8-4 s one after
another with some gaps, a corner counter and a watermark), the frame chosen by
svp.media.picture.FramePicker is compared with three simple choices made in the same run:
the first frame, the middle frame and the sharpest frame (variance of the Laplacian, text or
not). For each, printed:
- overlay shown: the chosen time falls within an overlay's display (the clips' ground truth);
- overlay words read: RapidOCR (the default engine) run on the chosen picture finds words of
  the clip's overlays (what a person would see on the cover);
- sharpness: the Laplacian variance of the chosen picture as a share of the sharpest frame's
  (mean over the clips; text adds edges, so a clear frame rarely reaches 1.0);
- cost: the OCR stage's frame scan (svp.media.frames.text_samples, no OCR) with and without the
  picker looking at every sample, as a ratio; and how many offered frames the engine read to
  find one without text (each is one more OCR image: billed with Cloud Vision).
Usage: python bench/picture.py [--clips N]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT), str(ROOT / "bench")]

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from ocr_quality import clips  # noqa: E402

from svp.config import Settings  # noqa: E402
from svp.media.frames import TextChanges, frame_at, text_samples  # noqa: E402
from svp.media.ocr import read_frames  # noqa: E402
from svp.media.picture import FramePicker, encoded  # noqa: E402
from svp.media.screen import ScreenText  # noqa: E402
from tests.clipgen import Overlay  # noqa: E402

INTERVAL = Settings().ocr_interval_seconds


def scan(path: Path, on_look=None) -> float:
    """Seconds the OCR stage's frame scan took, `on_look` seeing every look."""
    changes = TextChanges()
    began = time.perf_counter()
    for _ in text_samples(
        path, INTERVAL, changes, on_look and (lambda s, m: on_look(s, m, changes))
    ):
        pass
    return time.perf_counter() - began


def sharpest_look(path: Path) -> float:
    """The time of the sharpest look, text or not."""
    best = (-1.0, 0.0)

    def look(sample, still, changes) -> None:
        nonlocal best
        best = max(best, (float(cv2.Laplacian(sample.small, cv2.CV_32F).var()), sample.seconds))

    scan(path, look)
    return best[1]


def shown(overlays: list[Overlay], seconds: float) -> bool:
    return any(o.start - 0.04 <= seconds < o.end for o in overlays)


def words_read(jpeg: bytes, overlays: list[Overlay]) -> int:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    ((_, lines),) = read_frames([(0.0, image)], Settings(ocr_engine="rapidocr"))
    seen = {w for line in lines for w in re.findall(r"[a-z]+", line.text.lower())}
    words = {w for o in overlays for w in re.findall(r"[a-z]+", o.text.lower())}
    return len(seen & words)


def sharpness(jpeg: bytes) -> float:
    grey = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=10)
    args = parser.parse_args()
    made = clips(args.clips)
    methods = ("first frame", "middle frame", "sharpest frame", "FramePicker")
    hits = dict.fromkeys(methods, 0)
    read = dict.fromkeys(methods, 0)
    sharp = dict.fromkeys(methods, 0.0)  # sum over clips: share of the sharpest frame's
    plain_time = picker_time = 0.0
    checked = 0
    print(f"{len(made)} clips of 16 s; looks every {INTERVAL} s")
    for path, overlays, _ in made:
        plain = scan(path)
        took = scan(path, FramePicker().look)
        plain_time, picker_time = plain_time + plain, picker_time + took
        picker = FramePicker()  # the OCR stage's path: looks, then offers read by the engine
        screen = ScreenText(Settings(ocr_engine="rapidocr"), picker=picker)
        screen.read_video(path)
        checked += screen.picture_checks
        sharpest = sharpest_look(path)
        assert picker.chosen is not None
        duration = max(o.end for o in overlays)
        times = {"first frame": 0.0, "middle frame": duration / 2, "sharpest frame": sharpest}
        row = f"  {path.name:<18}"
        most = sharpness(encoded(frame_at(path, sharpest)))
        for method in methods:
            if method == "FramePicker":
                seconds, jpeg = picker.chosen.seconds, picker.chosen.jpeg
            else:
                seconds = times[method]
                jpeg = encoded(frame_at(path, seconds))
            on, words = shown(overlays, seconds), words_read(jpeg, overlays)
            hits[method] += on
            read[method] += words > 0
            sharp[method] += sharpness(jpeg) / most
            row += f" | {method.split()[0]} {seconds:5.2f}s {'TEXT' if on else 'clear'} {words}w"
        print(row)
    print()
    print(f"{'choice':<16} {'overlay shown':>14} {'overlay words read':>19} {'sharpness':>10}")
    for method in methods:
        print(
            f"{method:<16} {hits[method]:>7}/{len(made):<6} {read[method]:>12}/{len(made):<6}"
            f" {sharp[method] / len(made):>9.2f}"
        )
    print(
        f"\nframe scan: {plain_time:.1f} s without the picker, {picker_time:.1f} s with it "
        f"({picker_time / plain_time:.2f}x); the engine read {checked} offered frames for "
        f"{len(made)} videos ({checked / len(made):.1f} each)"
    )


if __name__ == "__main__":
    main()
