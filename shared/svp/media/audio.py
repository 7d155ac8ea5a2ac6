"""Audio for speech recognition: mono, 16 kHz FLAC.

Lossless: lossy codecs at upload-friendly bitrates cost recognition accuracy (seen with Opus
24 kb/s on tiny.en), and 16 kHz mono FLAC is still ~1 MB a minute, far under the API's 25 MB.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from svp.errors import PermanentError


def extract_audio(media: Path, out: Path) -> Path:
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(media),
        "-vn", "-ac", "1", "-ar", "16000", "-c:a", "flac", str(out),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise PermanentError(f"could not read the audio track: {result.stderr.strip()[-300:]}")
    return out
