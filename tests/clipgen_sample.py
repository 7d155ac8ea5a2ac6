"""Writes the README's sample clip: `python -m tests.clipgen_sample samples/cooking-demo.mp4`."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.clipgen import make_clip

SPEECH = (
    "Hi everyone! Today we make a quick tomato basil pasta. "
    "First, boil the spaghetti in salted water for ten minutes. "
    "Meanwhile, fry two cloves of garlic in olive oil, then add the chopped tomatoes. "
    "Let the sauce simmer for five minutes. "
    "Drain the pasta, toss it with the sauce, and finish with fresh basil and parmesan. "
    "Enjoy your dinner!"
)
OVERLAYS = [
    (0, 5, "Tomato Basil Pasta"),
    (5, 10, "200 g spaghetti"),
    (10, 15, "2 cloves garlic"),
    (15, 20, "400 g tomatoes"),
    (20, 25, "Fresh basil"),
    (25, 30, "Parmesan"),
]


def main(out: str) -> None:
    make_clip(Path(out), speech_text=SPEECH, overlays=OVERLAYS, duration=30)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "samples/cooking-demo.mp4")
