"""Test clips made on the spot: espeak-ng speech plus ffmpeg drawtext overlays.

Shared by the tests, the benchmarks and `make sample` (which refreshes samples/).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\u2019")


def speech(text: str, out: Path, speed: int = 140, voice: str = "en-us") -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
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
    voice: str = "en-us",
) -> Path:
    """An H.264/AAC mp4. `overlays`: (start s, end s, text) drawn large in the middle;
    `voice`: the espeak-ng voice of the speech."""
    with tempfile.TemporaryDirectory() as tmp:
        inputs: list[str] = []
        audio_maps: list[str] = []
        if speech_text:
            wav = speech(speech_text, Path(tmp) / "speech.wav", voice=voice)
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
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-t",
            str(length),
            "-i",
            source,
            *inputs,
            "-map",
            "0:v",
            "-vf",
            ",".join(filters) or "null",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(fps * 2),
            *audio_maps,
            "-t",
            str(length),
            "-movflags",
            "+faststart",
            str(out),
        ]
        subprocess.run(command, check=True)
    return out


@dataclass(frozen=True)
class Overlay:
    """A text box shown from `start` to `end` s; `x`, `y` are drawtext expressions."""

    start: float
    end: float
    text: str
    y: str = "(h-text_h)/2"
    x: str = "(w-text_w)/2"
    size: int = 14  # font size = frame width / size


# A corner counter (time code or frame number) and a handle, as social videos carry them.
COUNTER_TIMECODE = "%{pts\\:hms}"
COUNTER_FRAMES = "%{frame_num}"


def make_overlay_clip(
    out: Path,
    overlays: Sequence[Overlay],
    *,
    duration: float,
    size: tuple[int, int] = (720, 1280),
    fps: int = 30,
    background: str = "testsrc2",
    counter: str = "",
    watermark: str = "",
    speech_text: str = "",
    voice: str = "en-us",
    font: str = FONT,
    style: str = "box",
    colour: str = "white",
) -> Path:
    """Bold text (`colour`, in `font`) over a moving lavfi `background`, with an optional
    counter in the top-left corner and a watermark or handle in the bottom-right one. `style`:
    "box" (on a dark box), "outline" (a black border, no box, as editing apps draw it) or
    "shadow" (a drop shadow, no box)."""
    width, height = size
    looks = {
        "box": f"box=1:boxcolor=black@0.65:boxborderw={width // 60}",
        "outline": f"borderw={max(2, width // 200)}:bordercolor=black",
        "shadow": f"shadowx={max(2, width // 300)}:shadowy={max(2, width // 300)}:"
        "shadowcolor=black@0.8",
    }
    filters = [
        f"drawtext=fontfile={font}:text='{_escape(o.text)}':fontsize={width // o.size}:"
        f"fontcolor={colour}:{looks[style]}:"
        f"x={o.x}:y={o.y}:enable='between(t,{o.start},{o.end - 0.05})'"
        for o in overlays
    ]
    if counter:
        filters.append(
            f"drawtext=fontfile={FONT}:text='{counter}':fontsize={width // 30}:fontcolor=white:"
            f"box=1:boxcolor=black@0.5:boxborderw=6:x=w/40:y=h/30"
        )
    if watermark:
        filters.append(
            f"drawtext=fontfile={FONT}:text='{_escape(watermark)}':fontsize={width // 26}:"
            f"fontcolor=white@0.85:x=w-text_w-w/30:y=h-text_h-h/25"
        )
    joiner = ":" if "=" in background else "="  # a source with options of its own
    with tempfile.TemporaryDirectory() as tmp:
        audio: list[str] = []
        if speech_text:
            wav = speech(speech_text, Path(tmp) / "speech.wav", voice=voice)
            audio = ["-i", str(wav), "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "64k"]
        source = f"{background}{joiner}size={width}x{height}:rate={fps}"
        lavfi = ["-f", "lavfi", "-t", str(duration), "-i", source]
        video = ["-vf", ",".join(filters) or "null", "-c:v", "libx264", "-preset", "veryfast"]
        layout = ["-pix_fmt", "yuv420p", "-g", str(fps * 2), "-t", str(duration), str(out)]
        command = ["ffmpeg", "-nostdin", "-v", "error", "-y", *lavfi, *audio, *video, *layout]
        subprocess.run(command, check=True)
    return out
