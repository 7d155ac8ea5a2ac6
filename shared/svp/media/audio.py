"""Audio for speech recognition: mono, 16 kHz FLAC, and pieces of it for chunked transcription.

FLAC is compressed losslessly: lossy codecs at upload-friendly bitrates cost recognition accuracy
(seen with Opus 24 kb/s on tiny.en), and 16 kHz mono FLAC is about 0.5-1.5 MB a minute, so one
piece stays far under the transcription API's 25 MB limit for the chunk lengths used here
(svp.media.chunking sizes pieces by the file's measured bytes per second anyway).

ffmpeg runs through svp.media.ffmpeg: it reads the input file only, under the child limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from svp.media.ffmpeg import run_ffmpeg

if TYPE_CHECKING:
    from svp.config import Settings

SAMPLE_RATE = 16000


def extract_audio(media: Path, out: Path, settings: Settings | None = None) -> Path:
    run_ffmpeg(
        [],
        media,
        ["-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "flac", str(out)],
        "could not read the audio track",
        settings,
        out=out,
    )
    return out


def cut(
    audio: Path, start: float, length: float, out: Path, settings: Settings | None = None
) -> Path:
    """The piece [start, start + length) of `audio`, re-encoded so it starts on a clean frame."""
    run_ffmpeg(
        ["-ss", f"{start:.3f}", "-t", f"{length:.3f}"],
        audio,
        ["-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "flac", str(out)],
        "could not cut the audio",
        settings,
        out=out,
    )
    return out
