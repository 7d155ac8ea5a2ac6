"""Test clips made on the spot: espeak-ng speech plus ffmpeg drawtext overlays.

Shared by the tests, the benchmarks and `make sample` (which refreshes samples/).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\u2019")


def speech(text: str, out: Path, speed: int = 140) -> Path:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(speed), "-w", str(out), text], check=True)
    return out


def make_clip(
    out: Path,
    *,
    speech_text: str = "",
    overlays: Sequence[tuple[float, float, str]] = (),
    duration: float | None = None,
    size: tuple[int, int] = (720, 1280),
    fps: int = 25,
    moving: bool = False,
) -> Path:
    """An H.264/AAC mp4. `overlays`: (start s, end s, text) drawn large in the middle."""
    with tempfile.TemporaryDirectory() as tmp:
        inputs: list[str] = []
        audio_maps: list[str] = []
        if speech_text:
            wav = speech(speech_text, Path(tmp) / "speech.wav")
            inputs += ["-i", str(wav)]
            audio_maps = ["-map", "1:a", "-c:a", "aac", "-b:a", "64k"]
        width, height = size
        if moving:  # a background that changes every frame, like real footage
            source = f"testsrc2=size={width}x{height}:rate={fps}"
        else:
            source = f"color=c=0x1f3a5f:size={width}x{height}:rate={fps}"
        filters = [
            f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize={width // 14}:"
            f"fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=16:"
            f"x=(w-text_w)/2:y=(h-text_h)/2:enable='between(t,{start},{end - 0.05})'"
            for start, end, text in overlays
        ]
        length = duration or max([end for _, end, _ in overlays] + [1.0])
        command = [
            "ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-t", str(length), "-i", source,
            *inputs,
            "-map", "0:v", "-vf", ",".join(filters) or "null",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(fps * 2),
            *audio_maps,
            "-t", str(length), "-movflags", "+faststart", str(out),
        ]  # fmt: skip
        subprocess.run(command, check=True)
    return out
