"""Transcriber stage: the media's speech as text (empty when there is none)."""

from __future__ import annotations

import json
from typing import Any

from svp.media.audio import extract_audio
from svp.media.transcribe import Transcript, transcribe
from svp.runtime.runner import StageContext


def run(ctx: StageContext) -> dict[str, Any]:
    media = ctx.output_of("downloader")
    if media.get("has_audio"):
        local = ctx.scratch / "media"
        ctx.runtime.blobs.download(media["artifacts"]["media"], local)
        audio = extract_audio(local, ctx.scratch / "audio.flac")
        transcript = transcribe(audio, ctx.runtime.settings)
    else:
        transcript = Transcript("", engine="none")  # no audio track: nothing to transcribe
    uri = ctx.save("transcript.json", json.dumps(transcript.as_dict()).encode(), "application/json")
    return {
        "artifacts": {"transcript": uri},
        "language": transcript.language,
        "engine": transcript.engine,
        "chars": len(transcript.text),
        "minutes": round(media.get("duration", 0) / 60, 2),
    }
