"""Transcriber stage: what is said in the post, as text (empty when nothing is said).

Sources, in order: the platform's subtitles in the video's language (SVP_USE_SUBTITLES, on by
default: free, and usually better than a small local model), else speech recognition on the
audio track. Image posts are not transcribed. `transcript.json` records which source was used.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from svp.media import subtitles
from svp.media.audio import extract_audio
from svp.media.transcribe import Transcript, transcribe
from svp.runtime.runner import StageContext

log = logging.getLogger("svp.transcriber")


def _info(ctx: StageContext, media: dict[str, Any]) -> dict[str, Any]:
    uri = (media.get("artifacts") or {}).get("info")
    return json.loads(ctx.runtime.blobs.get_bytes(uri)) if uri else {}


def from_subtitles(info: dict[str, Any]) -> Transcript | None:
    """The platform's subtitles as a transcript, if it has usable ones in the video's language."""
    tracks = info.get("subtitles") or {}
    if not tracks:
        return None
    chosen = info.get("subtitle_language") or next(iter(tracks))
    text = tracks.get(chosen) or next(iter(tracks.values()))
    segments = subtitles.parse(text or "")
    if not segments:
        return None
    return Transcript(
        " ".join(s["text"] for s in segments),
        subtitles.language_code(chosen),
        "platform",
        segments,
        "subtitles",
    )


def run(ctx: StageContext) -> dict[str, Any]:
    media = ctx.output_of("downloader")
    settings = ctx.runtime.settings
    artifacts = media.get("artifacts") or {}
    transcript: Transcript | None = None
    if media.get("kind") == "images" or not artifacts.get("media"):
        transcript = Transcript("", engine="none", source="none")  # nothing to listen to
    else:
        info = _info(ctx, media)
        if settings.use_subtitles:
            transcript = from_subtitles(info)
        if transcript is None and media.get("has_audio"):
            transcript = _speech(ctx, artifacts, info)
    if transcript is None:
        transcript = Transcript("", engine="none", source="none")  # no audio track
    uri = ctx.save(
        "transcript.json",
        json.dumps(transcript.as_dict(), ensure_ascii=False).encode(),
        "application/json",
    )
    return {
        "artifacts": {"transcript": uri},
        "language": transcript.language,
        "engine": transcript.engine,
        "source": transcript.source,
        "chars": len(transcript.text),
        # Minutes of audio given to a paid engine (cost reporting), not the video's length.
        "minutes": round(transcript.seconds_sent / 60, 2),
        "pieces": transcript.pieces,
    }


def _speech(ctx: StageContext, artifacts: dict[str, Any], info: dict[str, Any]) -> Transcript:
    """Speech recognition on each video of the post, one after the other."""
    from svp.media.probe import probe

    uris = artifacts.get("videos") or [artifacts["media"]]
    hint = language_hint(info, local=not ctx.runtime.settings.openai_api_key)
    parts: list[Transcript] = []
    offset = 0.0
    for index, uri in enumerate(uris):
        local = ctx.scratch / f"media-{index}"
        ctx.runtime.blobs.download(uri, local)
        found = probe(local, ctx.runtime.settings)
        if found.has_audio:
            audio = extract_audio(local, ctx.scratch / f"audio-{index}.flac", ctx.runtime.settings)
            local.unlink(missing_ok=True)  # the video is not needed any more: keep /tmp small
            part = transcribe(
                audio,
                ctx.runtime.settings,
                duration=found.duration,
                scratch=ctx.scratch,
                language_hint=hint,
            )
            audio.unlink(missing_ok=True)
            for segment in part.segments:
                segment["start"] = round(segment["start"] + offset, 2)
                segment["end"] = round(segment["end"] + offset, 2)
            parts.append(part)
        offset += found.duration
    if not parts:
        return Transcript("", engine="none", source="none")
    text = "\n".join(p.text for p in parts if p.text)
    spoken = [p for p in parts if p.text] or [p for p in parts if p.notice] or parts
    return Transcript(
        text,
        spoken[0].language,
        parts[0].engine,
        [s for p in parts for s in p.segments],
        "speech" if text else "none",
        seconds_sent=sum(p.seconds_sent for p in parts),
        pieces=sum(p.pieces for p in parts),
        notice="; ".join(dict.fromkeys(p.notice for p in parts if p.notice)),
    )


def language_hint(info: dict[str, Any], *, local: bool) -> str:
    """The post's language as its metadata, subtitle tracks or (for the local English-only
    model, which cannot tell) its caption and title say; '' when none does."""
    named = info.get("language") or info.get("subtitle_language") or ""
    if not named and info.get("subtitles"):
        named = next(iter(info["subtitles"]))
    if named:
        return subtitles.language_code(named)
    if not local:
        return ""
    from svp.media.language import identify

    return identify(f"{info.get('title') or ''}\n{info.get('description') or ''}")
