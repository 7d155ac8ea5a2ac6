"""How long `svp process` takes on the sample clip, in total and per stage.

Prints wall time per stage (from the job's own records) and the real-time factor against the
clip's duration, measured in the same run. Usage: python bench/process.py [CLIP] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("downloader", "transcriber", "ocr", "summarizer", "writer")


def duration_of(clip: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(clip)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def run_once(clip: Path) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "SVP_DATA_DIR": data, "PYTHONPATH": str(ROOT / "shared")}
        env.pop("GEMINI_API_KEY", None)
        env.pop("OPENAI_API_KEY", None)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "svp.cli", "process", str(clip), "--tag", "cooking"],
            env=env,
            check=True,
            capture_output=True,
        )
        total = time.perf_counter() - started
        jobs = json.loads(
            subprocess.run(
                [sys.executable, "-m", "svp.cli", "jobs", "--json"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        stages = {s: jobs[0]["stages"][s]["duration_ms"] / 1000 for s in STAGES}
        return total, stages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clip", nargs="?", default=str(ROOT / "samples/cooking-demo.mp4"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    clip = Path(args.clip)
    length = duration_of(clip)
    runs = [run_once(clip) for _ in range(args.runs)]
    totals = [total for total, _ in runs]
    print(f"clip: {clip.name}, {length:.1f} s; {args.runs} runs, median shown")
    print(
        f"svp process total: {statistics.median(totals):.2f} s "
        f"(real-time factor {statistics.median(totals) / length:.2f}x)"
    )
    for stage in STAGES:
        print(f"  {stage:<12} {statistics.median(r[1][stage] for r in runs):6.2f} s")
    print("transcriber and ocr run in parallel; total includes interpreter start and model load")


if __name__ == "__main__":
    main()
