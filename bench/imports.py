"""Cold-start cost: import time of each function's main.py in a fresh interpreter.

Baseline, measured in the same run: an interpreter that imports only functions_framework.
Also lists any heavy library a function imports at start that it should load lazily.
Target: poller and writer under 0.3 s. Usage: python bench/imports.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("poller", "downloader", "transcriber", "ocr", "summarizer", "writer", "webhook", "api")
HEAVY = (
    "cv2",
    "yt_dlp",
    "faster_whisper",
    "ctranslate2",
    "google.genai",
    "openai",
    "google.cloud.vision",
    "google.cloud.storage",
    "google.cloud.firestore",
    "google.cloud.pubsub_v1",
    "pytesseract",
    "rapidocr",
    "onnxruntime",
    "notion_client",
    "numpy",
)


def timed(code: str) -> tuple[float, str]:
    script = (
        "import time; t = time.perf_counter()\n"
        + code
        + "\nimport sys; print(time.perf_counter() - t); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    return float(out[0]), out[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    baseline = statistics.median(timed("import functions_framework")[0] for _ in range(runs))
    print(f"baseline (import functions_framework): {baseline:.3f} s, median of {runs}")
    for name in FUNCTIONS:
        code = (
            f"import sys, runpy; sys.path[:0] = [{str(ROOT / 'shared')!r}, "
            f"{str(ROOT / 'functions' / name)!r}]; "
            f"runpy.run_path({str(ROOT / 'functions' / name / 'main.py')!r})"
        )
        samples = [timed(code) for _ in range(runs)]
        seconds = statistics.median(s for s, _ in samples)
        heavy = samples[-1][1] or "none"
        print(
            f"  {name:<12} {seconds:.3f} s  ({seconds / baseline:.2f}x baseline)  "
            f"heavy libraries at import: {heavy}"
        )


if __name__ == "__main__":
    main()
