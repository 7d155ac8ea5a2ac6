"""Audio for speech recognition: mono, 16 kHz FLAC, and pieces of it for chunked transcription.

FLAC is compressed losslessly: lossy codecs at upload-friendly bitrates cost recognition accuracy
(seen with Opus 24 kb/s on tiny.en), and 16 kHz mono FLAC is about 0.5-1.5 MB a minute, so one
piece stays far under the transcription API's 25 MB limit for the chunk lengths used here
(svp.media.chunking sizes pieces by the file's measured bytes per second anyway).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from svp.errors import PermanentError

SAMPLE_RATE = 16000


def _ffmpeg(arguments: list[str], what: str) -> None:
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise PermanentError(f"{what}: {result.stderr.strip()[-300:]}")


def extract_audio(media: Path, out: Path) -> Path:
    _ffmpeg(
        ["-i", str(media), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "flac", str(out)],
        "could not read the audio track",
    )
    return out


def cut(audio: Path, start: float, length: float, out: Path) -> Path:
    """The piece [start, start + length) of `audio`, re-encoded so it starts on a clean frame."""
    _ffmpeg(
        ["-ss", f"{start:.3f}", "-t", f"{length:.3f}", "-i", str(audio),
         "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "flac", str(out)],
        "could not cut the audio",
    )  # fmt: skip
    return out
