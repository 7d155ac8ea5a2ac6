"""What the data folder (.svp) holds after N runs of `svp process` on the sample clip.

Runs `svp process samples/cooking-demo.mp4 --tag cooking` N times (25 by default) into one
fresh data folder and prints its size on disk (allocated blocks, by part) every few runs.
With --baseline PATH (another checkout, e.g. the main branch), the same loop runs that
tree's code too, in the same run, for the before/after figure.

Usage: python bench/disk.py [--runs N] [--baseline PATH] [--clip FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def held(folder: Path) -> dict[str, int]:
    """Bytes on disk under `folder`, by its first-level parts."""
    parts: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            top = path.relative_to(folder).parts[0]
            parts[top] = parts.get(top, 0) + path.stat().st_blocks * 512
    return parts


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:7.2f} MB"


def loop(tree: Path, clip: Path, runs: int, label: str) -> int:
    with tempfile.TemporaryDirectory(prefix="svp-disk-") as work:
        data = Path(work) / ".svp"
        env = {**os.environ, "SVP_DATA_DIR": str(data), "PYTHONPATH": str(tree / "shared")}
        for name in ("GEMINI_API_KEY", "OPENAI_API_KEY", "NOTION_TOKEN"):
            env.pop(name, None)
        for n in range(1, runs + 1):
            done = subprocess.run(
                [sys.executable, "-m", "svp.cli", "process", str(clip), "--tag", "cooking"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                sys.exit(f"{label}: run {n} failed ({done.returncode}): {done.stderr[-500:]}")
            if n % 5 == 0 or n == runs:
                parts = held(data)
                detail = ", ".join(f"{k} {mb(v).strip()}" for k, v in sorted(parts.items()))
                print(f"{label:<9} after {n:3d} runs: {mb(sum(parts.values()))}  ({detail})")
        return sum(held(data).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--clip", type=Path, default=ROOT / "samples" / "cooking-demo.mp4")
    args = parser.parse_args()
    clip = args.clip.resolve()
    print(f"clip: {clip.name}, {clip.stat().st_size / 1024:.0f} KB; {args.runs} runs each")
    figures = {}
    if args.baseline:
        figures["baseline"] = loop(args.baseline.resolve(), clip, args.runs, "baseline")
    figures["this tree"] = loop(ROOT, clip, args.runs, "this tree")
    for label, size in figures.items():
        print(f"{label:<9} .svp after {args.runs} runs: {mb(size)}")


if __name__ == "__main__":
    main()
