"""What a media file holds, by ffprobe (through svp.media.ffmpeg: the file itself only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from svp.errors import PermanentError
from svp.media.children import Limits, run_child
from svp.media.ffmpeg import checked_input, input_options, probe_json

if TYPE_CHECKING:
    from svp.config import Settings


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0


def probe(path: Path, settings: Settings | None = None) -> MediaInfo:
    data = probe_json(path, settings)
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


def readable_seconds(path: Path, settings: Settings | None = None) -> float | None:
    """Where the file's packets really end, in seconds (demuxed, not decoded: fast), or None
    when ffprobe cannot say. Below the container's announced duration, the file was cut
    short: a download that stopped, a copy that did not finish."""
    entries = ["-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0"]
    done = run_child(
        ["ffprobe", "-v", "error", *input_options(), *entries, checked_input(path)],
        what="ffprobe",
        limits=Limits.from_settings(settings),
        reads=[path],
    )
    if done.returncode != 0:
        return None
    end = 0.0
    for line in done.stdout.splitlines():
        values = [v for v in line.split(",") if v not in ("", "N/A")]
        try:
            end = max(end, sum(float(v) for v in values[:2]))
        except ValueError:
            continue
    return end or None
