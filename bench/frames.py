"""Frame sampling: the 2-second samples of a 60 s, 1080x1920, 30 fps clip.

Baseline, measured in the same run: the naive OpenCV loop that decodes every frame and keeps
one every 2 s. Measured: svp.media.frames.sample_frames (keyframes and a packet-index plan),
target at least 5x faster than the baseline; and the OCR stage's own scan
(svp.media.frames.text_samples with TextChanges): a look every SVP_OCR_INTERVAL (0.3 s, so that
an overlay shown for 0.8 s is seen), which must decode every frame other frames depend on, and
the same scan at SVP_OCR_INTERVAL=2 (mostly keyframes; misses short overlays).
Usage: python bench/frames.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from svp.config import Settings  # noqa: E402
from svp.media.frames import TextChanges, sample_frames, text_samples  # noqa: E402
from tests.clipgen import make_clip  # noqa: E402

CLIP = Path(tempfile.gettempdir()) / "svp-bench" / "frames-60s-1080x1920-30fps.mp4"


def clip() -> Path:
    if not CLIP.is_file():
        CLIP.parent.mkdir(parents=True, exist_ok=True)
        overlays = [(i * 6.0, i * 6.0 + 6.0, f"Step {i + 1}") for i in range(10)]
        make_clip(CLIP, overlays=overlays, duration=60, size=(1080, 1920), fps=30, moving=True)
    return CLIP


def naive(path: Path, every: float = 2.0) -> int:
    """Decode every frame, keep one every `every` seconds (what OCR would read)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    step = round(capture.get(cv2.CAP_PROP_FPS) * every)
    kept = index = 0
    while True:
        ok, _frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            kept += 1  # `_frame` is the sample
        index += 1
    capture.release()
    return kept


def _scan(path: Path, every: float) -> int:
    changes = TextChanges()
    for _ in text_samples(path, every, changes):
        pass  # the frames sent to OCR; converted only when read, so not here
    return changes.seen


def timed(fn, runs: int) -> tuple[float, int]:
    samples, count = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        count = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    path = clip()
    base, base_count = timed(lambda: naive(path), runs)
    ours, count = timed(lambda: sum(1 for _ in sample_frames(path, 2.0)), runs)
    every = Settings().ocr_interval_seconds
    ocr, ocr_count = timed(lambda: _scan(path, every), runs)
    sparse, sparse_count = timed(lambda: _scan(path, 2.0), runs)
    print(f"clip: 60 s, 1080x1920, 30 fps, keyframe every 2 s (libx264 -g 60); median of {runs}")
    print(f"baseline, OpenCV decoding every frame: {base:.2f} s for {base_count} samples")
    print(
        f"sample_frames (keyframes, no companion): {ours:.2f} s for {count} samples: "
        f"{base / ours:.1f}x faster (target >= 5x)"
    )
    scan = f"the OCR stage's scan, a look every {every} s with text-change detection"
    print(f"{scan}: {ocr:.2f} s for {ocr_count} looks: {base / ocr:.1f}x faster")
    sparse_scan = "the same scan at SVP_OCR_INTERVAL=2"
    print(f"{sparse_scan}: {sparse:.2f} s for {sparse_count} looks: {base / sparse:.1f}x faster")


if __name__ == "__main__":
    main()
