"""What a media file holds, by ffprobe."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from svp.errors import PermanentError


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0


def probe(path: Path) -> MediaInfo:
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["unreadable"])[-1]
        detail = last.replace(f"{path}: ", "")
        raise PermanentError(f"the downloaded file is not audio or video ({detail})")
    data = json.loads(result.stdout)
    streams = data.get("streams", [])
    # Cover art in an mp3 shows up as a video stream with a single frame.
    video = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video and not audio:
        raise PermanentError("the downloaded file has no audio or video stream")
    duration = float(data.get("format", {}).get("duration") or 0)
    first = video[0] if video else {}
    return MediaInfo(
        duration, bool(video), bool(audio), first.get("width", 0), first.get("height", 0)
    )
